// Package beam runs hydrocast's window and feature code inside an Apache Beam
// pipeline, for streams larger than a fleet of ingest workers should carry: readings
// in (Pub/Sub in production), each athlete's window folded by a stateful DoFn keyed
// by athlete, feature vectors out (Redis in production) and validated readings out
// (BigQuery in production).
//
// The fold is the features package's AthleteWindow, the very code the online stores
// run, so a vector computed here equals the one the in-process store gives for the
// same readings at the same instant. The DoFn buffers an athlete's readings and
// folds them in event-time order once the watermark passes them (an event-time
// timer), and emits the athlete's vector at every Options.VectorInterval boundary
// its readings cover: the vector as of boundary m uses exactly the readings with an
// event time up to m, as an assessment at m would.
//
// Readings must carry their event time as the element timestamp: ParseReadings sets
// it from the reading, and in production Pub/Sub's timestamp attribute gives the
// watermark the same clock (see cmd/hydrocast-beam and docs/scaling.md).
package beam

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"google.golang.org/protobuf/proto"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/wire"
)

// VectorRow is one athlete's feature vector at one instant, in the order of the
// feature schema of SchemaVersion.
type VectorRow struct {
	AthleteID     string
	SchemaVersion int64

	// AsOfUnixMilli is the instant the vector describes; FreshestUnixMilli the event
	// time of the newest reading behind it, zero when none is.
	AsOfUnixMilli     int64
	FreshestUnixMilli int64

	// Values holds NaN where Status is features.StatusMissing.
	Values []float64
	Status []byte
}

// ReadingRow is a validated reading as stored for analysis, one column per signal;
// a signal the reading lacks is NaN in Values.
type ReadingRow struct {
	AthleteID           string
	Source              string
	EventTimeUnixMicros int64
	Values              []float64 // indexed by features.Signal
}

// Options tunes the pipeline.
type Options struct {
	// Window is the per-athlete window's options; the zero value means
	// features.DefaultWindowOptions, which is what the online stores use.
	Window features.WindowOptions

	// VectorInterval is the spacing of the instants a vector is emitted at, aligned
	// to the Unix epoch. Zero means one minute, the assessment cadence.
	VectorInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Window == (features.WindowOptions{}) {
		o.Window = features.DefaultWindowOptions()
	}
	if o.VectorInterval <= 0 {
		o.VectorInterval = time.Minute
	}
	return o
}

// Features folds encoded readings (binary hydrocast.v1.Reading messages, as
// ParseReadings emits them keyed by athlete) into feature vectors and the rows of
// the readings that changed a window. Invalid readings are counted (metric
// "readings_rejected") and dropped.
func Features(s beam.Scope, keyed beam.PCollection, opts Options) (vectors,
	rows beam.PCollection) {
	s = s.Scope("hydrocast.Features")
	opts = opts.withDefaults()
	fn := &foldFn{
		Pending:    state.MakeBagState[[]byte]("pending"),
		Window:     state.MakeValueState[[]byte]("window"),
		FlushAt:    state.MakeValueState[int64]("flush_at"),
		Next:       state.MakeValueState[int64]("next_vector"),
		Flush:      timers.InEventTime("flush"),
		LatenessMs: opts.Window.Lateness.Milliseconds(),
		MaxRows:    int64(opts.Window.MaxReadings),
		IntervalMs: opts.VectorInterval.Milliseconds(),
	}
	return beam.ParDo2(s, fn, keyed)
}

// ParseReadings decodes binary hydrocast.v1.Reading messages, keys them by athlete
// and gives each its event time as timestamp. Messages that do not decode are counted
// (metric "messages_undecodable") and dropped.
func ParseReadings(s beam.Scope, messages beam.PCollection) beam.PCollection {
	return beam.ParDo(s.Scope("hydrocast.ParseReadings"), parseReading, messages)
}

var (
	undecodable = beam.NewCounter("hydrocast", "messages_undecodable")
	rejected    = beam.NewCounter("hydrocast", "readings_rejected")
)

func parseReading(ctx context.Context, msg []byte,
	emit func(beam.EventTime, string, []byte)) {
	var p hydrocastv1.Reading
	if err := proto.Unmarshal(msg, &p); err != nil || p.GetTime() == nil {
		undecodable.Inc(ctx, 1)
		return
	}
	emit(beam.EventTime(p.GetTime().AsTime().UnixMilli()), p.GetAthleteId(), msg)
}

// foldFn is the stateful DoFn that keeps one athlete's window. Its exported fields
// are what Beam serialises with the DoFn.
type foldFn struct {
	// Pending holds readings not yet folded; Window the folded window
	// (AthleteWindow.MarshalBinary); FlushAt the time the flush timer is set for,
	// zero when unset; Next the next instant to emit a vector at, zero before the
	// first reading.
	Pending state.Bag[[]byte]
	Window  state.Value[[]byte]
	FlushAt state.Value[int64]
	Next    state.Value[int64]
	Flush   timers.EventTime

	LatenessMs int64
	MaxRows    int64
	IntervalMs int64
}

// ProcessElement buffers the reading and makes sure the flush timer fires by its
// event time.
func (f *foldFn) ProcessElement(ts beam.EventTime, sp state.Provider, tp timers.Provider,
	_ string, msg []byte, _ func(VectorRow), _ func(ReadingRow)) error {
	if err := f.Pending.Add(sp, msg); err != nil {
		return fmt.Errorf("buffer reading: %w", err)
	}
	at, set, err := f.FlushAt.Read(sp)
	if err != nil {
		return fmt.Errorf("read flush time: %w", err)
	}
	if t := int64(ts); !set || at == 0 || t < at {
		return f.setFlush(sp, tp, t)
	}
	return nil
}

func (f *foldFn) setFlush(sp state.Provider, tp timers.Provider, at int64) error {
	f.Flush.Set(tp, time.UnixMilli(at))
	return f.FlushAt.Write(sp, at)
}

// OnTimer folds, in event-time order, the pending readings up to the time the timer
// was set for: the watermark has passed it, so no reading up to it is still on its
// way. It then sets the timer for the earliest reading left or the next vector due.
func (f *foldFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider,
	athlete string,
	_ timers.Context, emitVector func(VectorRow), emitRow func(ReadingRow)) error {
	at, _, err := f.FlushAt.Read(sp)
	if err != nil {
		return fmt.Errorf("read flush time: %w", err)
	}
	due, rest, err := f.takeDue(sp, at)
	if err != nil {
		return err
	}
	w, next, err := f.load(sp, athlete)
	if err != nil {
		return err
	}

	v := features.NewVector()
	for _, r := range due {
		if err := r.Validate(); err != nil {
			rejected.Inc(ctx, 1)
			continue
		}
		next = f.emitUpTo(w, v, next, r.Time.UnixMilli(), false, emitVector)
		// Only a reading that changed the window is stored: not a redelivered
		// duplicate, not one too late or over the window's capacity.
		if res := w.Add(r); res == features.Applied || res == features.Replaced {
			emitRow(readingRow(&r))
		}
	}
	if !w.Newest().IsZero() {
		// Every reading up to at is folded: the vectors up to at are final, as far as
		// the first instant at or after the athlete's newest reading.
		next = f.emitUpTo(w, v, next, min(at, f.ceil(w.Newest().UnixMilli())), true,
			emitVector)
	}
	return f.save(sp, tp, w, next, rest)
}

// takeDue returns the pending readings with an event time up to at, sorted by it,
// and those left.
func (f *foldFn) takeDue(sp state.Provider, at int64) (due []features.Reading,
	rest [][]byte, err error) {
	msgs, _, err := f.Pending.Read(sp)
	if err != nil {
		return nil, nil, fmt.Errorf("read pending readings: %w", err)
	}
	for _, msg := range msgs {
		var p hydrocastv1.Reading
		if err := proto.Unmarshal(msg, &p); err != nil {
			return nil, nil, fmt.Errorf("decode pending reading: %w", err)
		}
		r := wire.FromProto(&p)
		if r.Time.UnixMilli() > at {
			rest = append(rest, msg)
			continue
		}
		due = append(due, r)
	}
	// Stable, so that of two readings of one source and time the later one wins, as
	// in the stores' IngestBatch.
	slices.SortStableFunc(due, func(a, b features.Reading) int {
		return a.Time.Compare(b.Time)
	})
	return due, rest, nil
}

// load returns the athlete's window and the next instant a vector is due at.
func (f *foldFn) load(sp state.Provider, athlete string) (*features.AthleteWindow, int64,
	error) {
	w := features.NewAthleteWindow(athlete, features.WindowOptions{
		Lateness: time.Duration(f.LatenessMs) * time.Millisecond, MaxReadings: int(f.MaxRows)})
	data, ok, err := f.Window.Read(sp)
	if err != nil {
		return nil, 0, fmt.Errorf("read window: %w", err)
	}
	if ok && len(data) > 0 {
		if err := w.UnmarshalBinary(data); err != nil {
			return nil, 0, fmt.Errorf("decode window of %s: %w", athlete, err)
		}
	}
	next, _, err := f.Next.Read(sp)
	if err != nil {
		return nil, 0, fmt.Errorf("read next vector time: %w", err)
	}
	return w, next, nil
}

// emitUpTo emits the vectors due before the instant until (up to and including it
// when inclusive) and returns the next instant due. Before the first reading nothing
// is due; the first vector is at the first boundary at or after it.
func (f *foldFn) emitUpTo(w *features.AthleteWindow, v *features.Vector, next, until int64,
	inclusive bool, emit func(VectorRow)) int64 {
	if next == 0 {
		if w.Newest().IsZero() {
			return f.ceil(until)
		}
		next = f.ceil(w.Newest().UnixMilli())
	}
	for next < until || (inclusive && next == until) {
		w.Vector(time.UnixMilli(next), v)
		emit(vectorRow(v))
		next += f.IntervalMs
	}
	return next
}

// ceil returns the first vector instant at or after ms.
func (f *foldFn) ceil(ms int64) int64 {
	return (ms + f.IntervalMs - 1) / f.IntervalMs * f.IntervalMs
}

// save stores the window, the next vector instant and the readings left, and sets
// the timer for whichever comes first of the earliest reading left and, while the
// athlete's newest reading is beyond it, the next vector.
func (f *foldFn) save(sp state.Provider, tp timers.Provider, w *features.AthleteWindow,
	next int64, rest [][]byte) error {
	data, err := w.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode window: %w", err)
	}
	if err := f.Window.Write(sp, data); err != nil {
		return fmt.Errorf("write window: %w", err)
	}
	if err := f.Next.Write(sp, next); err != nil {
		return fmt.Errorf("write next vector time: %w", err)
	}
	if err := f.Pending.Clear(sp); err != nil {
		return fmt.Errorf("clear pending readings: %w", err)
	}

	flush := int64(math.MaxInt64)
	for _, msg := range rest {
		if err := f.Pending.Add(sp, msg); err != nil {
			return fmt.Errorf("keep pending reading: %w", err)
		}
		var p hydrocastv1.Reading
		if err := proto.Unmarshal(msg, &p); err == nil {
			flush = min(flush, p.GetTime().AsTime().UnixMilli())
		}
	}
	if newest := w.Newest(); !newest.IsZero() && next <= f.ceil(newest.UnixMilli()) {
		flush = min(flush, next)
	}
	if flush == math.MaxInt64 {
		return f.FlushAt.Write(sp, 0)
	}
	return f.setFlush(sp, tp, flush)
}

func vectorRow(v *features.Vector) VectorRow {
	status := make([]byte, len(v.Status))
	for i, s := range v.Status {
		status[i] = byte(s)
	}
	var freshest int64
	if !v.FreshestReading.IsZero() {
		freshest = v.FreshestReading.UnixMilli()
	}
	return VectorRow{AthleteID: v.AthleteID, SchemaVersion: int64(v.SchemaVersion),
		AsOfUnixMilli: v.AsOf.UnixMilli(), FreshestUnixMilli: freshest,
		Values: slices.Clone(v.Values), Status: status}
}

func readingRow(r *features.Reading) ReadingRow {
	return ReadingRow{AthleteID: r.AthleteID, Source: r.Source,
		EventTimeUnixMicros: r.Time.UnixMicro(), Values: slices.Clone(r.Values[:])}
}

func init() {
	register.DoFn7x1[beam.EventTime, state.Provider, timers.Provider, string, []byte,
		func(VectorRow), func(ReadingRow), error](&foldFn{})
	register.Emitter2[VectorRow, ReadingRow]()
	register.Function3x0(parseReading)
	register.Emitter3[beam.EventTime, string, []byte]()
	register.Emitter1[VectorRow]()
	register.Emitter1[ReadingRow]()
	beam.RegisterType(reflect.TypeOf((*VectorRow)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*ReadingRow)(nil)).Elem())
}
