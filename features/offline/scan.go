package offline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// DefaultBatchRows is the most rows of a batch a scan reads at a time.
const DefaultBatchRows = 64 * 1024

// Query selects readings to scan.
type Query struct {
	// From and To bound the event time, From included and To excluded. A zero time
	// leaves that end open.
	From, To time.Time

	// Athletes are the athletes wanted; none means every athlete.
	Athletes []string

	// BatchRows is the most rows read from a file at a time; it bounds the memory of
	// a scan. Zero means DefaultBatchRows.
	BatchRows int
}

// Partition is one date folder of the readings table.
type Partition struct {
	Date  time.Time // midnight UTC
	Files []string  // paths of its data files, in sequence order
}

// Partitions returns the partitions that may hold readings of event times in
// [from, to) (zero times leave that end open), in date order. Folders that are not
// named date=YYYY-MM-DD are ignored.
func (s *Store) Partitions(from, to time.Time) ([]Partition, error) {
	root := filepath.Join(s.root, readingsDir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}

	var parts []Partition
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), "date=")
		if !e.IsDir() || !ok {
			continue
		}
		date, err := time.Parse(time.DateOnly, name)
		if err != nil {
			continue
		}
		if (!to.IsZero() && !date.Before(to)) ||
			(!from.IsZero() && !date.Add(secondsPerDay*time.Second).After(from)) {
			continue
		}
		files, err := dataFiles(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		if len(files) > 0 {
			parts = append(parts, Partition{Date: date, Files: files})
		}
	}
	slices.SortFunc(parts, func(a, b Partition) int { return a.Date.Compare(b.Date) })
	return parts, nil
}

// dataFiles returns the paths of the data files of a partition folder, in sequence
// order (other names after, by name).
func dataFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list partition: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && isDataFile(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		sa, oka := partSeq(a)
		sb, okb := partSeq(b)
		if oka && okb {
			return cmp.Compare(sa, sb)
		}
		return cmp.Or(-boolCompare(oka, okb), cmp.Compare(a, b))
	})
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
	}
	return paths, nil
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// Scan yields the readings that q selects as record batches of ReadingsSchema,
// partition by partition in date order and file by file within one. A batch is
// valid until the next iteration; Retain it to keep it. Files of another writer
// that lack ingest_time or late get those columns null and false. Within a file,
// row groups whose statistics rule out q's athletes and times are not read.
//
// On an error Scan yields it with a nil record and stops. A file deleted between
// listing and reading (by DeleteAthlete) is skipped.
func (s *Store) Scan(ctx context.Context, q Query) iter.Seq2[arrow.Record, error] {
	return func(yield func(arrow.Record, error) bool) {
		parts, err := s.Partitions(q.From, q.To)
		if err != nil {
			yield(nil, fmt.Errorf("scan readings: %w", err))
			return
		}
		f := newFilter(q)
		for _, p := range parts {
			for _, path := range p.Files {
				if err := ctx.Err(); err != nil {
					yield(nil, fmt.Errorf("scan readings: %w", err))
					return
				}
				more, err := s.scanFile(ctx, path, f, yield)
				if err != nil {
					yield(nil, fmt.Errorf("scan %s: %w", s.relative(path), err))
					return
				}
				if !more {
					return
				}
			}
		}
	}
}

// Rows yields the readings that q selects one by one, in the order of Scan.
func (s *Store) Rows(ctx context.Context, q Query) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		var r Row
		for rec, err := range s.Scan(ctx, q) {
			if err != nil {
				yield(Row{}, err)
				return
			}
			cols, err := columnsOf(rec)
			if err != nil {
				yield(Row{}, err)
				return
			}
			for i := range int(rec.NumRows()) {
				cols.row(i, &r)
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

// Day is the selected readings of one partition.
type Day struct {
	Date time.Time // the partition's date, midnight UTC
	Rows []Row     // in file order: by athlete, event time and source within a file
}

// Days yields the readings that q selects a partition at a time, in date order,
// each partition's rows together; memory holds one partition's selection. A
// partition holds the readings measured on its date, so once a partition is
// yielded, no later one holds a reading measured before the next date begins.
// Another writer's file that puts a reading in an earlier partition than its date
// does not break that; one that puts it in a later partition does.
func (s *Store) Days(ctx context.Context, q Query) iter.Seq2[Day, error] {
	return func(yield func(Day, error) bool) {
		parts, err := s.Partitions(q.From, q.To)
		if err != nil {
			yield(Day{}, fmt.Errorf("scan readings: %w", err))
			return
		}
		f := newFilter(q)
		for _, p := range parts {
			day := Day{Date: p.Date}
			collect := func(rec arrow.Record, err error) bool {
				if err == nil {
					var rows []Row
					if rows, err = RowsOf(rec); err == nil {
						day.Rows = append(day.Rows, rows...)
						return true
					}
				}
				yield(Day{}, err)
				return false
			}
			for _, path := range p.Files {
				more, err := s.scanFile(ctx, path, f, collect)
				if err != nil {
					yield(Day{}, fmt.Errorf("scan %s: %w", s.relative(path), err))
					return
				}
				if !more {
					return
				}
			}
			if len(day.Rows) > 0 && !yield(day, nil) {
				return
			}
		}
	}
}

// relative returns path relative to the store's root, for error messages.
func (s *Store) relative(path string) string {
	if rel, err := filepath.Rel(s.root, path); err == nil {
		return rel
	}
	return filepath.Base(path)
}

// scanFile yields the selected rows of one file; it reports false when yield asked
// to stop.
func (s *Store) scanFile(ctx context.Context, path string, f *filter,
	yield func(arrow.Record, error) bool) (bool, error) {
	p, err := openParquet(path, f.batchRows, s.opts.Allocator)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer p.Close()

	groups := f.rowGroups(p.pf)
	if len(groups) == 0 {
		return true, nil
	}
	more := true
	var batchErr error
	err = p.batches(ctx, groups, func(rec arrow.Record) bool {
		norm, err := conform(rec, s.opts.Allocator)
		if err != nil {
			batchErr = err
			return false
		}
		defer norm.Release()
		more = f.each(norm, func(part arrow.Record) bool { return yield(part, nil) })
		return more
	})
	return more, cmp.Or(batchErr, err)
}

// filter is a Query prepared for testing rows.
type filter struct {
	from, to  int64 // event time bounds in Unix µs, from included, to excluded
	athletes  map[string]struct{}
	sorted    []string // the athletes, sorted, for statistics checks
	batchRows int
}

func newFilter(q Query) *filter {
	f := &filter{from: math.MinInt64, to: math.MaxInt64, batchRows: q.BatchRows}
	if f.batchRows <= 0 {
		f.batchRows = DefaultBatchRows
	}
	if !q.From.IsZero() {
		f.from = q.From.UnixMicro()
		if q.From.Nanosecond()%1000 != 0 {
			f.from++ // the first whole microsecond at or after From
		}
	}
	if !q.To.IsZero() {
		f.to = q.To.UnixMicro()
		if q.To.Nanosecond()%1000 != 0 {
			f.to++ // a reading at To's microsecond is still before To
		}
	}
	if len(q.Athletes) > 0 {
		f.athletes = make(map[string]struct{}, len(q.Athletes))
		for _, a := range q.Athletes {
			f.athletes[a] = struct{}{}
		}
		f.sorted = slices.Sorted(func(yield func(string) bool) {
			for a := range f.athletes {
				if !yield(a) {
					return
				}
			}
		})
	}
	return f
}

// rowGroups returns the row groups of a file that may hold selected rows, judged
// by the statistics of athlete_id and time where the file has them.
func (f *filter) rowGroups(pf *file.Reader) []int {
	md := pf.MetaData()
	sc := md.Schema
	timeCol, idCol := sc.ColumnIndexByName(ColTime), sc.ColumnIndexByName(ColAthleteID)
	unit := arrow.Microsecond
	if timeCol >= 0 {
		unit = parquetTimeUnit(sc.Column(timeCol))
	}

	var groups []int
	for g := range pf.NumRowGroups() {
		rg := md.RowGroup(g)
		if timeCol >= 0 {
			if st, ok := stats[*metadata.Int64Statistics](rg, timeCol); ok &&
				(toMicros(st.Max(), unit) < f.from || toMicros(st.Min(), unit) >= f.to) {
				continue
			}
		}
		if idCol >= 0 && f.sorted != nil {
			if st, ok := stats[*metadata.ByteArrayStatistics](rg, idCol); ok &&
				!f.anyAthleteIn(string(st.Min()), string(st.Max())) {
				continue
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// stats returns the min-max statistics of a column chunk, when it has them.
func stats[T metadata.TypedStatistics](rg *metadata.RowGroupMetaData, col int) (T, bool) {
	var zero T
	cc, err := rg.ColumnChunk(col)
	if err != nil {
		return zero, false
	}
	if set, err := cc.StatsSet(); err != nil || !set {
		return zero, false
	}
	st, err := cc.Statistics()
	if err != nil || st == nil || !st.HasMinMax() {
		return zero, false
	}
	typed, ok := st.(T)
	return typed, ok
}

// parquetTimeUnit returns the unit of a Parquet timestamp column.
func parquetTimeUnit(c *schema.Column) arrow.TimeUnit {
	lt, ok := c.LogicalType().(interface{ TimeUnit() schema.TimeUnitType })
	if !ok {
		return arrow.Microsecond
	}
	switch lt.TimeUnit() {
	case schema.TimeUnitMillis:
		return arrow.Millisecond
	case schema.TimeUnitNanos:
		return arrow.Nanosecond
	}
	return arrow.Microsecond
}

// anyAthleteIn reports whether a wanted athlete lies in [lo, hi].
func (f *filter) anyAthleteIn(lo, hi string) bool {
	i, _ := slices.BinarySearch(f.sorted, lo)
	return i < len(f.sorted) && f.sorted[i] <= hi
}

// each calls yield with the selected rows of rec: rec itself when every row is
// selected, else one slice per run of selected rows, released after the call. Files
// sorted by athlete and time make the runs long. It reports false when yield did.
func (f *filter) each(rec arrow.Record, yield func(arrow.Record) bool) bool {
	cols, err := columnsOf(rec)
	if err != nil {
		return false
	}
	n := int(rec.NumRows())
	start := -1
	var lastID string
	lastWanted := false
	for i := 0; i <= n; i++ {
		keep := false
		if i < n {
			keep = f.keepTime(cols.eventMicros(i))
			if keep && f.athletes != nil {
				if id := cols.ids.Value(i); i == 0 || id != lastID {
					_, lastWanted = f.athletes[id]
					lastID = id
				}
				keep = lastWanted
			}
		}
		switch {
		case keep && start < 0:
			start = i
		case !keep && start >= 0:
			if start == 0 && i == n {
				return yield(rec)
			}
			part := rec.NewSlice(int64(start), int64(i))
			more := yield(part)
			part.Release()
			if !more {
				return false
			}
			start = -1
		}
	}
	return true
}

func (f *filter) keepTime(us int64) bool { return us >= f.from && us < f.to }

// conform returns rec in ReadingsSchema: rec itself (retained) when it already is,
// else its columns found by name, with null ingest times and false late flags where
// the file lacks them. The caller releases the result.
func conform(rec arrow.Record, mem memory.Allocator) (arrow.Record, error) {
	if rec.Schema().Equal(readingsSchema) {
		rec.Retain()
		return rec, nil
	}

	n := int(rec.NumRows())
	cols := make([]arrow.Array, 0, len(readingsSchema.Fields()))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, field := range readingsSchema.Fields() {
		idx := rec.Schema().FieldIndices(field.Name)
		switch {
		case len(idx) == 1 && arrow.TypeEqual(rec.Column(idx[0]).DataType(), field.Type):
			col := rec.Column(idx[0])
			col.Retain()
			cols = append(cols, col)
		case len(idx) == 1:
			return nil, fmt.Errorf("column %s is %s, want %s: %w", field.Name,
				rec.Column(idx[0]).DataType(), field.Type, ErrNotReadings)
		case field.Name == ColLate:
			cols = append(cols, falses(mem, n))
		case field.Nullable:
			cols = append(cols, array.MakeArrayOfNull(mem, field.Type, n))
		default:
			return nil, fmt.Errorf("no column %s: %w", field.Name, ErrNotReadings)
		}
	}
	return array.NewRecord(readingsSchema, cols, int64(n)), nil
}

// falses returns a boolean array of n false values.
func falses(mem memory.Allocator, n int) arrow.Array {
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.AppendValues(make([]bool, n), nil)
	return b.NewArray()
}
