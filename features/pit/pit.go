// Package pit builds point-in-time training sets: for each labelled event (an
// athlete, an instant, the values to learn), the feature vector that serving would
// have computed for that athlete at that instant. It replays the athlete's readings
// from the offline store through a features.AthleteWindow, the code that serves
// them online, stopping at the label's time, so that training and serving cannot
// drift apart and no reading from after a label leaks into it.
//
// By default a label sees every reading measured at or before its time, in event
// order: the corrected history. With Options.AsIngested it sees only the readings
// the server had received by then, in the order they arrived, which reproduces what
// the server computed live: a reading backfilled after the label's time, though
// measured before it, stays out, as does one that came too late for the window.
package pit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
)

var (
	// ErrLabelNames is returned for label names that are empty, repeated or the
	// name of a feature record column.
	ErrLabelNames = errors.New("invalid label names")

	// ErrInvalidLabel is returned for a label without an athlete or a time, or with
	// another number of values than there are label names.
	ErrInvalidLabel = errors.New("invalid label")
)

// Label is one labelled event.
type Label struct {
	AthleteID string
	Time      time.Time // the instant the label describes; features are taken as of it
	Values    []float64 // one per label name; NaN where unknown
}

// Source yields readings a partition at a time, as offline.Store.Days does: no
// partition holds a reading measured before the date of an earlier one's
// successor. *offline.Store implements it.
type Source interface {
	Days(ctx context.Context, q offline.Query) iter.Seq2[offline.Day, error]
}

// Options tunes a build.
type Options struct {
	// AsIngested, when true, lets a label see only the readings ingested at or
	// before its time, replayed in ingest order. A reading without an ingest time,
	// or with one before its event time, counts as ingested when measured.
	AsIngested bool

	// Window must be the serving store's window options, or replay computes other
	// features than serving did; nil means features.DefaultWindowOptions.
	Window *features.WindowOptions

	// From is the start of history: readings measured before it are not replayed.
	// The zero time replays everything the source holds before each label. A later
	// From reads less, but the first session after it starts afresh (fluid total,
	// core temperature filter, last body mass).
	From time.Time

	// Allocator allocates the records; nil means memory.DefaultAllocator.
	Allocator memory.Allocator
}

// Keys of the training set's schema metadata, besides the feature schema's.
const (
	MetaAsIngested = "hydrocast.pit.as_ingested"
	MetaLabels     = "hydrocast.pit.labels" // the label names, comma-separated
)

// Schema returns the Arrow schema of a training set with the given label names: the
// columns of features.ArrowSchema (with as_of the label's time, in milliseconds),
// then one nullable float64 column per label, named as given. The label fields'
// metadata has offline.WriteParquet write them plain, without a dictionary: a label
// is null in the rows of other families, and such columns decode several times
// faster plain.
func Schema(names []string, asIngested bool) (*arrow.Schema, error) {
	base := features.ArrowSchema()
	seen := make(map[string]bool, len(names))
	fields := slices.Clone(base.Fields())
	for _, n := range names {
		if n == "" || seen[n] || base.HasField(n) {
			return nil, fmt.Errorf("label name %q: %w", n, ErrLabelNames)
		}
		seen[n] = true
		fields = append(fields, arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Float64,
			Nullable: true, Metadata: labelMetadata})
	}

	md := base.Metadata()
	keys := append(slices.Clone(md.Keys()), MetaAsIngested, MetaLabels)
	values := append(slices.Clone(md.Values()), strconv.FormatBool(asIngested),
		strings.Join(names, ","))
	meta := arrow.NewMetadata(keys, values)
	return arrow.NewSchema(fields, &meta), nil
}

// labelMetadata is the metadata of a label field.
var labelMetadata = arrow.NewMetadata([]string{offline.FieldEncoding},
	[]string{offline.FieldEncodingPlain})

// Build returns the training set of the labels as one record, one row per label,
// ordered by label time, then athlete, then the labels' order. The caller
// releases the record. Memory holds the result, one partition of the labelled
// athletes' readings and their windows.
func Build(ctx context.Context, src Source, names []string, labels []Label,
	opts *Options) (arrow.Record, error) {
	b, err := newBuilder(names, labels, opts)
	if err != nil {
		return nil, err
	}

	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	err = b.run(ctx, src, func(rec arrow.Record) error {
		rec.Retain()
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return b.record(nil)
	}
	tbl := array.NewTableFromRecords(b.schema, recs)
	defer tbl.Release()
	return concat(b.mem, tbl)
}

// Written counts what WriteParquet wrote.
type Written struct {
	// Rows is the number of rows, one per label.
	Rows int64
	// WithoutReadings is how many of them had no reading of their athlete before
	// them, so that every feature is missing: a label of an athlete the store does
	// not know, or from before the store's first day.
	WithoutReadings int64
}

// WriteParquet writes the training set of the labels to w as one Parquet file, in
// the order of Build, and says how many rows it wrote. It holds a day of labels at a
// time, not the whole set. The file's key-value metadata holds the schema's.
func WriteParquet(ctx context.Context, w io.Writer, src Source, names []string,
	labels []Label, opts *Options) (Written, error) {
	b, err := newBuilder(names, labels, opts)
	if err != nil {
		return Written{}, err
	}
	// The writer stores the schema's metadata as the file's key-value metadata.
	var n int64
	err = offline.WriteParquet(w, b.schema, nil, TrainingRowGroupRows,
		func(write func(arrow.Record) error) error {
			return b.run(ctx, src, func(rec arrow.Record) error {
				n += rec.NumRows()
				return write(rec)
			})
		})
	written := Written{Rows: n, WithoutReadings: b.withoutReadings}
	if err != nil {
		return written, err
	}
	return written, nil
}

// TrainingRowGroupRows bounds the rows of a training set's row group, which the
// writer holds in memory (the training benchmarks write theirs so too): nearly 300
// columns of 1 to 8 bytes a cell make 16,384 rows some 40 MB.
const TrainingRowGroupRows = 16 * 1024

// concat joins a table's chunks into one record.
func concat(mem memory.Allocator, tbl arrow.Table) (arrow.Record, error) {
	cols := make([]arrow.Array, tbl.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		c, err := array.Concatenate(tbl.Column(i).Data().Chunks(), mem)
		if err != nil {
			return nil, fmt.Errorf("join training set: %w", err)
		}
		cols[i] = c
	}
	return array.NewRecord(tbl.Schema(), cols, tbl.NumRows()), nil
}

// builder holds one build's labels, per athlete, and its replay state.
type builder struct {
	names    []string
	labels   []Label
	schema   *arrow.Schema
	opts     Options
	window   features.WindowOptions
	mem      memory.Allocator
	athletes map[string]*athlete
	last     time.Time // the latest label time

	withoutReadings int64 // labels taken before any reading of their athlete
}

// athlete is the replay state of one labelled athlete.
type athlete struct {
	w       *features.AthleteWindow
	labels  []int // indexes into builder.labels, by time then index
	next    int   // the first label not yet taken
	pending []offline.Row
}

func newBuilder(names []string, labels []Label, opts *Options) (*builder, error) {
	b := &builder{names: names, labels: labels, athletes: make(map[string]*athlete)}
	if opts != nil {
		b.opts = *opts
	}
	b.window = features.DefaultWindowOptions()
	if b.opts.Window != nil {
		b.window = *b.opts.Window
	}
	b.mem = b.opts.Allocator
	if b.mem == nil {
		b.mem = memory.DefaultAllocator
	}
	sc, err := Schema(names, b.opts.AsIngested)
	if err != nil {
		return nil, fmt.Errorf("build training set: %w", err)
	}
	b.schema = sc

	for i := range labels {
		l := &labels[i]
		if l.AthleteID == "" || l.Time.IsZero() || len(l.Values) != len(names) {
			return nil, fmt.Errorf("build training set: label %d (athlete %q, %d values "+
				"for %d names): %w", i, l.AthleteID, len(l.Values), len(names), ErrInvalidLabel)
		}
		a := b.athletes[l.AthleteID]
		if a == nil {
			a = &athlete{w: features.NewAthleteWindow(l.AthleteID, b.window)}
			b.athletes[l.AthleteID] = a
		}
		a.labels = append(a.labels, i)
		if l.Time.After(b.last) {
			b.last = l.Time
		}
	}
	for _, a := range b.athletes {
		slices.SortStableFunc(a.labels, func(x, y int) int {
			return labels[x].Time.Compare(labels[y].Time)
		})
	}
	return b, nil
}

// run replays the source and hands the labels' rows to emit a day at a time.
func (b *builder) run(ctx context.Context, src Source, emit func(arrow.Record) error) error {
	if len(b.labels) == 0 {
		return nil
	}
	q := offline.Query{From: b.opts.From, To: b.last.Add(time.Nanosecond),
		Athletes: slices.Sorted(mapKeys(b.athletes))}

	// Once a partition begins, no reading measured before its date is still to
	// come, so everything visible before then is final: the labels before it can
	// be taken.
	for day, err := range src.Days(ctx, q) {
		if err != nil {
			return fmt.Errorf("build training set: %w", err)
		}
		if err := b.advance(day.Date, emit); err != nil {
			return err
		}
		for _, r := range day.Rows {
			if a := b.athletes[r.AthleteID]; a != nil {
				a.pending = append(a.pending, r)
			}
		}
	}
	return b.advance(endOfTime, emit)
}

func mapKeys[V any](m map[string]V) iter.Seq[string] {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// endOfTime is after every label: the horizon once the source is exhausted.
var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// result is the vector of one label.
type result struct {
	label int
	v     *features.Vector
}

// advance replays every athlete's pending readings known before horizon, takes the
// labels before horizon, and emits their rows.
func (b *builder) advance(horizon time.Time, emit func(arrow.Record) error) error {
	var out []result
	for _, a := range b.athletes {
		out = b.replay(a, horizon, out)
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, func(x, y result) int {
		lx, ly := &b.labels[x.label], &b.labels[y.label]
		return cmp.Or(lx.Time.Compare(ly.Time), cmp.Compare(lx.AthleteID, ly.AthleteID),
			cmp.Compare(x.label, y.label))
	})
	rec, err := b.record(out)
	if err != nil {
		return err
	}
	defer rec.Release()
	if err := emit(rec); err != nil {
		return fmt.Errorf("build training set: %w", err)
	}
	return nil
}

// key returns when a reading becomes visible to labels: its event time, or with
// AsIngested the time it was known.
func (b *builder) key(r *offline.Row) time.Time {
	if b.opts.AsIngested {
		return effectiveIngest(r)
	}
	return r.Time
}

// effectiveIngest returns when a reading was known: its ingest time, but never
// before its event time.
func effectiveIngest(r *offline.Row) time.Time {
	if r.IngestTime.Before(r.Time) {
		return r.Time
	}
	return r.IngestTime
}

// replay feeds an athlete's pending readings visible before horizon to its window,
// in visibility order, taking each label before horizon once every reading visible
// at its time is in, and appends the labels' vectors to out.
func (b *builder) replay(a *athlete, horizon time.Time, out []result) []result {
	// Ties in visibility go in event order then ingest order, so that of two
	// versions of one reading the later ingested replaces the earlier, as in
	// serving.
	slices.SortStableFunc(a.pending, func(x, y offline.Row) int {
		return cmp.Or(b.key(&x).Compare(b.key(&y)), x.Time.Compare(y.Time),
			effectiveIngest(&x).Compare(effectiveIngest(&y)))
	})

	i := 0
	for ; a.next < len(a.labels); a.next++ {
		at := b.labels[a.labels[a.next]].Time
		if !at.Before(horizon) {
			break
		}
		for ; i < len(a.pending) && !b.key(&a.pending[i]).After(at); i++ {
			apply(a.w, &a.pending[i])
		}
		if a.w.Newest().IsZero() {
			b.withoutReadings++
		}
		out = append(out, result{label: a.labels[a.next], v: vectorAt(a.w, at)})
	}
	for ; i < len(a.pending) && b.key(&a.pending[i]).Before(horizon); i++ {
		apply(a.w, &a.pending[i])
	}
	a.pending = slices.Delete(a.pending, 0, i)
	return out
}

// vectorAt returns the window's features as of at. A window that has had no valid
// reading yet gives every feature missing, as the online store does for an athlete
// it does not know.
func vectorAt(w *features.AthleteWindow, at time.Time) *features.Vector {
	v := features.NewVector()
	if w.Newest().IsZero() {
		v.AthleteID, v.AsOf = w.AthleteID(), at
		return v
	}
	w.Vector(at, v)
	return v
}

// apply offers a reading to a window as the online store does: a reading that
// fails validation is left out.
func apply(w *features.AthleteWindow, r *offline.Row) {
	if r.Validate() != nil {
		return
	}
	w.Add(r.Reading)
}

// record builds the rows of the results.
func (b *builder) record(out []result) (arrow.Record, error) {
	vs := make([]*features.Vector, len(out))
	for i, r := range out {
		vs[i] = r.v
	}
	feat, err := features.NewRecord(b.mem, vs)
	if err != nil {
		return nil, fmt.Errorf("build training set: %w", err)
	}
	defer feat.Release()

	cols := slices.Clone(feat.Columns())
	for k := range b.names {
		lb := array.NewFloat64Builder(b.mem)
		for _, r := range out {
			if v := b.labels[r.label].Values[k]; math.IsNaN(v) {
				lb.AppendNull()
			} else {
				lb.Append(v)
			}
		}
		col := lb.NewArray()
		lb.Release()
		defer col.Release()
		cols = append(cols, col)
	}
	return array.NewRecord(b.schema, cols, int64(len(out))), nil
}
