package importer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
)

// parquetBatchRows is how many rows DecodeParquet reads at a time.
const parquetBatchRows = 64 * 1024

// DecodeParquet reads readings from a Parquet file, one reading a row, the columns
// chosen by opt. Signal columns may be of any integer or floating-point type, null
// or NaN where missing. The time column may be a timestamp, a number (with
// TimeFormat unix or unix_ms) or a string (in TimeFormat). A row with a null time,
// or without any signal, is skipped and counted. Errors name the row (counting from
// 1) and column at fault.
//
// TODO: Arrow's decoder trusts the sizes a damaged file declares. Panics come back
// as ErrMalformed errors, but some damaged files make it try to allocate gigabytes
// or spin for minutes, which nothing here can stop; import files from people you
// trust, or in a process that may die.
func DecodeParquet(r parquet.ReaderAtSeeker, opt TableOptions) (res Result, err error) {
	if err := opt.check(); err != nil {
		return Result{}, err
	}
	// Arrow's decoder can panic on a damaged file.
	defer func() {
		if p := recover(); p != nil {
			res, err = Result{}, malformed("parquet: decoder failed: %v", p)
		}
	}()

	// offline.File decodes in this goroutine, where the recover above and its own
	// reach every panic of the decoder.
	f, err := offline.NewFile(r, "parquet", memory.DefaultAllocator)
	if err != nil {
		return Result{}, malformed("%w", err)
	}
	if err := checkParquetColumns(f.Schema(), &opt); err != nil {
		return Result{}, err
	}

	source := opt.sourceOr(FormatParquet)
	row := 0
	for rec, err := range f.Batches(context.Background(),
		offline.BatchOptions{Rows: parquetBatchRows}) {
		if err != nil {
			return Result{}, malformed("parquet row %d: %w", row+1, err)
		}
		if err := decodeBatch(rec, &opt, source, row, &res); err != nil {
			return Result{}, err
		}
		row += int(rec.NumRows())
	}
	return finish(res, FormatParquet)
}

// checkParquetColumns reports a mapped column the file lacks.
func checkParquetColumns(sc *arrow.Schema, opt *TableOptions) error {
	check := func(name, role string) error {
		if name != "" && len(sc.FieldIndices(name)) == 0 {
			names := make([]string, sc.NumFields())
			for i, f := range sc.Fields() {
				names[i] = f.Name
			}
			return malformed("parquet: no column %q (for %s); the columns are %q",
				name, role, names)
		}
		return nil
	}
	for _, c := range []struct{ name, role string }{
		{opt.TimeColumn, "the time"}, {opt.AthleteColumn, "the athlete"},
		{opt.SourceColumn, "the source"},
	} {
		if err := check(c.name, c.role); err != nil {
			return err
		}
	}
	for s := range features.NumSignals {
		if err := check(opt.Columns[s], s.Name()); err != nil {
			return err
		}
	}
	return nil
}

// decodeBatch appends the readings of one record batch, whose first row is row
// (counting from 0) of the file.
func decodeBatch(rec arrow.Record, opt *TableOptions, source string, row int,
	res *Result) error {
	colErr := func(name string, err error) error {
		return malformed("parquet column %q: %w", name, err)
	}
	at, err := timeColumn(rec, opt)
	if err != nil {
		return colErr(opt.TimeColumn, err)
	}
	athlete, err := stringColumn(rec, opt.AthleteColumn)
	if err != nil {
		return colErr(opt.AthleteColumn, err)
	}
	sources, err := stringColumn(rec, opt.SourceColumn)
	if err != nil {
		return colErr(opt.SourceColumn, err)
	}
	var signals [features.NumSignals]func(int) float64
	for s := range features.NumSignals {
		if signals[s], err = numberColumn(rec, opt.Columns[s]); err != nil {
			return colErr(opt.Columns[s], err)
		}
	}

	rowErr := func(i int, name string, err error) error {
		return malformed("parquet row %d, column %q: %w", row+i+1, name, err)
	}
	for i := range int(rec.NumRows()) {
		t, ok, err := at(i)
		if err != nil {
			return rowErr(i, opt.TimeColumn, err)
		}
		if !ok {
			res.Skipped++
			continue
		}
		id := opt.AthleteID
		if athlete != nil {
			if id, ok = athlete(i); !ok || id == "" {
				return rowErr(i, opt.AthleteColumn, errors.New("empty athlete id"))
			}
		}
		src := source
		if sources != nil {
			if s, ok := sources(i); ok && s != "" {
				src = s
			}
		}

		r := features.NewReading(id, src, t)
		present := false
		for s, get := range signals {
			if get == nil {
				continue
			}
			v := get(i)
			if math.IsInf(v, 0) {
				return rowErr(i, opt.Columns[features.Signal(s)],
					fmt.Errorf("%g is not a finite number", v))
			}
			r.Values[s] = v
			present = present || !math.IsNaN(v)
		}
		if !present {
			res.Skipped++
			continue
		}
		res.Readings = append(res.Readings, r)
	}
	return nil
}

// columnOf returns the named column of rec; nil for an empty name.
func columnOf(rec arrow.Record, name string) arrow.Array {
	if name == "" {
		return nil
	}
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil
	}
	return rec.Column(idx[0])
}

// numberColumn returns a getter of a numeric column's values as float64, NaN where
// null; nil for an unmapped column.
func numberColumn(rec arrow.Record, name string) (func(int) float64, error) {
	col := columnOf(rec, name)
	if col == nil {
		return nil, nil
	}
	get := numberGetter(col)
	if get == nil {
		return nil, fmt.Errorf("type %s, want numbers", col.DataType())
	}
	return func(i int) float64 {
		if col.IsNull(i) {
			return math.NaN()
		}
		return get(i)
	}, nil
}

// numberGetter returns a getter of a numeric array's values, or nil for another
// type.
func numberGetter(col arrow.Array) func(int) float64 {
	switch c := col.(type) {
	case *array.Float64:
		return c.Value
	case *array.Float32:
		return func(i int) float64 { return float64(c.Value(i)) }
	case *array.Int64:
		return func(i int) float64 { return float64(c.Value(i)) }
	case *array.Int32:
		return func(i int) float64 { return float64(c.Value(i)) }
	case *array.Int16:
		return func(i int) float64 { return float64(c.Value(i)) }
	case *array.Int8:
		return func(i int) float64 { return float64(c.Value(i)) }
	case *array.Uint64:
		return func(i int) float64 { return float64(c.Value(i)) }
	case *array.Uint32:
		return func(i int) float64 { return float64(c.Value(i)) }
	case *array.Uint16:
		return func(i int) float64 { return float64(c.Value(i)) }
	case *array.Uint8:
		return func(i int) float64 { return float64(c.Value(i)) }
	}
	return nil
}

// stringColumn returns a getter of a string column's values, ok false where null;
// nil for an unmapped column.
func stringColumn(rec arrow.Record, name string) (func(int) (string, bool), error) {
	col := columnOf(rec, name)
	if col == nil {
		return nil, nil
	}
	var get func(int) string
	switch c := col.(type) {
	case *array.String:
		get = c.Value
	case *array.LargeString:
		get = c.Value
	default:
		return nil, fmt.Errorf("type %s, want strings", col.DataType())
	}
	return func(i int) (string, bool) {
		if col.IsNull(i) {
			return "", false
		}
		return get(i), true
	}, nil
}

// timeColumn returns a getter of the time column's values, ok false where null.
func timeColumn(rec arrow.Record, opt *TableOptions) (func(int) (time.Time, bool, error),
	error) {
	col := columnOf(rec, opt.TimeColumn)
	var get func(int) (time.Time, error)
	switch c := col.(type) {
	case *array.Timestamp:
		tt := c.DataType().(*arrow.TimestampType)
		get = func(i int) (time.Time, error) {
			t := c.Value(i).ToTime(tt.Unit)
			if tt.TimeZone == "" {
				// A timestamp without a zone is a wall-clock reading.
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(),
					t.Nanosecond(), opt.location())
			}
			return t, nil
		}
	case *array.String:
		get = func(i int) (time.Time, error) { return opt.parseTime(c.Value(i)) }
	default:
		num := numberGetter(col)
		if num == nil {
			return nil, fmt.Errorf("type %s, want timestamps, numbers or strings",
				col.DataType())
		}
		if opt.TimeFormat != TimeUnix && opt.TimeFormat != TimeUnixMillis {
			return nil, fmt.Errorf("numeric times need the time format %s or %s",
				TimeUnix, TimeUnixMillis)
		}
		get = func(i int) (time.Time, error) { return unixTime(num(i), opt.TimeFormat) }
	}
	return func(i int) (time.Time, bool, error) {
		if col.IsNull(i) {
			return time.Time{}, false, nil
		}
		t, err := get(i)
		return t, err == nil, err
	}, nil
}
