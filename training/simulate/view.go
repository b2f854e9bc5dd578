package simulate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// view reads named columns of one record batch. It remembers the first missing or
// mistyped column, so a decoder can ask for all its columns and check err once;
// after a failure the accessors it hands out return zero values.
type view struct {
	rec arrow.Record
	err error
}

func (v *view) rows() int { return int(v.rec.NumRows()) }

func (v *view) fail(format string, a ...any) {
	if v.err == nil {
		v.err = fmt.Errorf("%w: "+format, append([]any{ErrNotCohort}, a...)...)
	}
}

// column returns the named column when it has the wanted type.
func (v *view) column(name string, want arrow.Type) arrow.Array {
	idx := v.rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		v.fail("column %s missing", name)
		return nil
	}
	c := v.rec.Column(idx[0])
	if c.DataType().ID() != want {
		v.fail("column %s is %s, want %s", name, c.DataType(), want)
		return nil
	}
	return c
}

func (v *view) strings(name string) func(int) string {
	c, ok := v.column(name, arrow.STRING).(*array.String)
	if !ok {
		return func(int) string { return "" }
	}
	return c.Value
}

// floats returns a float64 column's values, NaN where null.
func (v *view) floats(name string) func(int) float64 {
	c, ok := v.column(name, arrow.FLOAT64).(*array.Float64)
	if !ok {
		return func(int) float64 { return math.NaN() }
	}
	return func(i int) float64 {
		if c.IsNull(i) {
			return math.NaN()
		}
		return c.Value(i)
	}
}

func (v *view) ints(name string) func(int) int64 {
	c, ok := v.column(name, arrow.INT64).(*array.Int64)
	if !ok {
		return func(int) int64 { return 0 }
	}
	return c.Value
}

func (v *view) bools(name string) func(int) bool {
	c, ok := v.column(name, arrow.BOOL).(*array.Boolean)
	if !ok {
		return func(int) bool { return false }
	}
	return c.Value
}

// times returns a timestamp column's values in UTC, whatever its unit.
func (v *view) times(name string) func(int) time.Time {
	c, ok := v.column(name, arrow.TIMESTAMP).(*array.Timestamp)
	if !ok {
		return func(int) time.Time { return time.Time{} }
	}
	unit := c.DataType().(*arrow.TimestampType).Unit
	return func(i int) time.Time { return c.Value(i).ToTime(unit) }
}

// arrowSchemaKey is the Parquet metadata key under which Arrow stores its schema.
const arrowSchemaKey = "ARROW:schema"

// batchRows is the number of rows read from a Parquet file at a time.
const batchRows = 16384

// batches reads the Parquet file of r one record batch at a time, all on the
// caller's goroutine: Arrow's own record reader opens columns on goroutines of its
// own, where a panic on a corrupt file would end the process. Here a panic of the
// decoder is returned as an ErrNotCohort error, since a cohort folder may hold
// anything.
type batches struct {
	pf     *file.Reader
	cols   []*pqarrow.ColumnReader
	schema *arrow.Schema
	cur    arrow.Record
	err    error
}

func openBatches(ctx context.Context, r parquet.ReaderAtSeeker) (b *batches, err error) {
	defer recoverDecoder(&err)
	pf, err := file.NewParquetReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCohort, err)
	}
	b = &batches{pf: pf}
	defer func() {
		if err != nil {
			b.close()
		}
	}()

	// A stored Arrow schema is decoded without bounds: a corrupt one can make Arrow
	// allocate without limit. The Parquet types alone give the columns their types.
	md := pf.MetaData().FileMetaData
	md.KeyValueMetadata = withoutKey(md.KeyValueMetadata, arrowSchemaKey)

	props := pqarrow.ArrowReadProperties{BatchSize: batchRows}
	fr, err := pqarrow.NewFileReader(pf, props, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCohort, err)
	}
	fields := make([]arrow.Field, len(fr.Manifest.Fields))
	for i := range fields {
		col, err := fr.GetColumn(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotCohort, err)
		}
		b.cols = append(b.cols, col)
		fields[i] = *col.Field()
	}
	b.schema = arrow.NewSchema(fields, nil)
	return b, nil
}

// next returns the next batch, or nil at the end or on error (see b.err). The batch
// stays valid until the next call.
func (b *batches) next() arrow.Record {
	defer recoverDecoder(&b.err)
	b.release()
	if b.err != nil || len(b.cols) == 0 {
		return nil
	}

	arrays := make([]arrow.Array, len(b.cols))
	defer func() {
		for _, a := range arrays {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i, col := range b.cols {
		chunked, err := col.NextBatch(batchRows)
		if err != nil {
			b.err = fmt.Errorf("%w: column %d: %w", ErrNotCohort, i, err)
			return nil
		}
		arrays[i], err = array.Concatenate(chunked.Chunks(), memory.DefaultAllocator)
		chunked.Release()
		if err != nil {
			b.err = fmt.Errorf("%w: column %d: %w", ErrNotCohort, i, err)
			return nil
		}
		if arrays[i].Len() != arrays[0].Len() {
			b.err = fmt.Errorf("%w: columns of different lengths", ErrNotCohort)
			return nil
		}
	}
	if arrays[0].Len() == 0 {
		return nil
	}
	b.cur = array.NewRecord(b.schema, arrays, int64(arrays[0].Len()))
	return b.cur
}

func (b *batches) release() {
	if b.cur != nil {
		b.cur.Release()
		b.cur = nil
	}
}

func (b *batches) close() {
	b.release()
	for _, c := range b.cols {
		c.Release()
	}
	b.pf.Close()
}

// withoutKey returns the key-value pairs other than key. (Generic because Parquet's
// key-value type lives in an internal package.)
func withoutKey[S ~[]E, E interface{ GetKey() string }](kvs S, key string) S {
	return slices.DeleteFunc(slices.Clone(kvs), func(kv E) bool { return kv.GetKey() == key })
}

// recoverDecoder turns a panic of Arrow's decoder into an error.
func recoverDecoder(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w: parquet decoder failed: %v", ErrNotCohort, p)
	}
}

// readAll decodes every batch of the Parquet file of r with decode.
func readAll[T any](ctx context.Context, r parquet.ReaderAtSeeker,
	decode func(*view) []T) ([]T, error) {
	b, err := openBatches(ctx, r)
	if err != nil {
		return nil, err
	}
	defer b.close()
	var out []T
	for rec := b.next(); rec != nil; rec = b.next() {
		v := &view{rec: rec}
		rows := decode(v)
		if v.err != nil {
			return nil, v.err
		}
		out = append(out, rows...)
	}
	return out, b.err
}
