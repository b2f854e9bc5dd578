package simulate

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// timestampType is the type of every time column: microseconds, UTC.
var timestampType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// column is one column of a table being written: its field and how to build its
// values for n rows.
type column struct {
	field arrow.Field
	build func(mem memory.Allocator, n int) arrow.Array
}

func stringColumn(name string, value func(i int) string) column {
	return column{arrow.Field{Name: name, Type: arrow.BinaryTypes.String},
		func(mem memory.Allocator, n int) arrow.Array {
			b := array.NewStringBuilder(mem)
			defer b.Release()
			for i := range n {
				b.Append(value(i))
			}
			return b.NewArray()
		}}
}

// floatColumn builds a float64 column; a nullable one stores NaN as null.
func floatColumn(name string, nullable bool, value func(i int) float64) column {
	return column{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: nullable},
		func(mem memory.Allocator, n int) arrow.Array {
			b := array.NewFloat64Builder(mem)
			defer b.Release()
			b.Reserve(n)
			for i := range n {
				if v := value(i); nullable && math.IsNaN(v) {
					b.AppendNull()
				} else {
					b.UnsafeAppend(v)
				}
			}
			return b.NewArray()
		}}
}

func intColumn(name string, value func(i int) int64) column {
	return column{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64},
		func(mem memory.Allocator, n int) arrow.Array {
			b := array.NewInt64Builder(mem)
			defer b.Release()
			for i := range n {
				b.Append(value(i))
			}
			return b.NewArray()
		}}
}

func uintColumn(name string, value func(i int) uint64) column {
	return column{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Uint64},
		func(mem memory.Allocator, n int) arrow.Array {
			b := array.NewUint64Builder(mem)
			defer b.Release()
			for i := range n {
				b.Append(value(i))
			}
			return b.NewArray()
		}}
}

func boolColumn(name string, value func(i int) bool) column {
	return column{arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean},
		func(mem memory.Allocator, n int) arrow.Array {
			b := array.NewBooleanBuilder(mem)
			defer b.Release()
			for i := range n {
				b.Append(value(i))
			}
			return b.NewArray()
		}}
}

func timeColumn(name string, value func(i int) time.Time) column {
	return column{arrow.Field{Name: name, Type: timestampType},
		func(mem memory.Allocator, n int) arrow.Array {
			b := array.NewTimestampBuilder(mem, timestampType)
			defer b.Release()
			for i := range n {
				b.Append(arrow.Timestamp(value(i).UnixMicro()))
			}
			return b.NewArray()
		}}
}

// writeTable writes n rows of the columns as one Parquet file with the given
// key-value metadata (keys sorted by the caller for reproducible bytes).
func writeTable(w io.Writer, cols []column, n int, meta [][2]string) error {
	mem := memory.DefaultAllocator
	fields := make([]arrow.Field, len(cols))
	arrays := make([]arrow.Array, len(cols))
	for i, c := range cols {
		fields[i] = c.field
		arrays[i] = c.build(mem, n)
		defer arrays[i].Release()
	}
	schema := arrow.NewSchema(fields, nil)
	rec := array.NewRecord(schema, arrays, int64(n))
	defer rec.Release()

	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithCreatedBy(GeneratorVersion),
		parquet.WithAllocator(mem),
	)
	fw, err := pqarrow.NewFileWriter(schema, w, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return fmt.Errorf("start parquet writer: %w", err)
	}
	for _, kv := range meta {
		if err := fw.AppendKeyValueMetadata(kv[0], kv[1]); err != nil {
			return fmt.Errorf("add parquet metadata: %w", err)
		}
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		return fmt.Errorf("write parquet rows: %w", err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("finish parquet file: %w", err)
	}
	return nil
}
