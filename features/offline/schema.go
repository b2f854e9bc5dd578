package offline

import (
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/hydrocast/hydrocast/features"
)

// Names of the readings table's columns besides the signals, which are named by
// features.Signal.Name.
const (
	ColAthleteID  = "athlete_id"
	ColSource     = "source"
	ColTime       = "time"
	ColIngestTime = "ingest_time"
	ColLate       = "late"
)

// TimestampType is the type of the readings table's time columns: microseconds, UTC.
// Parquet stores it as TIMESTAMP(MICROS, adjusted to UTC), which pandas and DuckDB
// read as zone-aware times.
var TimestampType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// firstSignalCol is the position of the first signal column in ReadingsSchema.
const firstSignalCol = 4

var readingsSchema = buildReadingsSchema()

// ReadingsSchema returns the Arrow schema of the readings table, one row per reading:
//
//	athlete_id   utf8
//	source       utf8, the device or sensor id
//	time         timestamp[us, UTC], event time
//	ingest_time  timestamp[us, UTC], when the store received the reading
//	<signal>     float64 per features.Signal, named by Signal.Name, null when absent
//	late         bool, true when the online store found it too old for its window
//
// Every writer of readings/date=YYYY-MM-DD/ files uses it, so that one reader serves
// them all. Readers find columns by name, and treat a file without ingest_time or
// late as ingested at event time and never late. The result is shared; callers must
// not modify it.
func ReadingsSchema() *arrow.Schema { return readingsSchema }

func buildReadingsSchema() *arrow.Schema {
	fields := []arrow.Field{
		{Name: ColAthleteID, Type: arrow.BinaryTypes.String},
		{Name: ColSource, Type: arrow.BinaryTypes.String},
		{Name: ColTime, Type: TimestampType},
		{Name: ColIngestTime, Type: TimestampType, Nullable: true},
	}
	for s := range features.NumSignals {
		fields = append(fields, arrow.Field{Name: s.Name(), Type: arrow.PrimitiveTypes.Float64,
			Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: ColLate, Type: arrow.FixedWidthTypes.Boolean})
	return arrow.NewSchema(fields, nil)
}

// Row is one reading as the offline store keeps it.
type Row struct {
	features.Reading

	// IngestTime is when the store received the reading. Zero means unknown: readers
	// then take the event time.
	IngestTime time.Time

	// Late is true when the online store did not apply the reading because it came
	// later than the window's lateness allows.
	Late bool
}

// effectiveIngest returns when the reading became known: its ingest time, or its
// event time when that is later or the ingest time is unknown. A reading cannot be
// known before it was measured; a device clock ahead of the server's is not a reason
// to let a reading count as received before it happened.
func (r *Row) effectiveIngest() time.Time {
	if r.IngestTime.Before(r.Time) {
		return r.Time
	}
	return r.IngestTime
}

// NewRecord builds a record of the rows in ReadingsSchema, allocating from mem (nil
// means memory.DefaultAllocator). The caller releases the record.
func NewRecord(mem memory.Allocator, rows []Row) arrow.Record {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, readingsSchema)
	defer b.Release()
	b.Reserve(len(rows))

	ids := b.Field(0).(*array.StringBuilder)
	sources := b.Field(1).(*array.StringBuilder)
	times := b.Field(2).(*array.TimestampBuilder)
	ingest := b.Field(3).(*array.TimestampBuilder)
	late := b.Field(firstSignalCol + int(features.NumSignals)).(*array.BooleanBuilder)
	for i := range rows {
		r := &rows[i]
		ids.Append(r.AthleteID)
		sources.Append(r.Source)
		times.UnsafeAppend(arrow.Timestamp(r.Time.UnixMicro()))
		if r.IngestTime.IsZero() {
			ingest.AppendNull()
		} else {
			ingest.UnsafeAppend(arrow.Timestamp(r.IngestTime.UnixMicro()))
		}
		late.UnsafeAppend(r.Late)
	}
	for s := range features.NumSignals {
		col := b.Field(firstSignalCol + int(s)).(*array.Float64Builder)
		for i := range rows {
			if v := rows[i].Values[s]; math.IsNaN(v) {
				col.UnsafeAppendBoolToBitmap(false)
			} else {
				col.UnsafeAppend(v)
			}
		}
	}
	return b.NewRecord()
}

// RowsOf decodes a record of readings, such as a batch of Scan or a file that
// ExportAthlete wrote. Columns are found by name: athlete_id, source and time are
// required (else ErrNotReadings), any other may be absent.
func RowsOf(rec arrow.Record) ([]Row, error) {
	cols, err := columnsOf(rec)
	if err != nil {
		return nil, fmt.Errorf("decode readings: %w", err)
	}
	rows := make([]Row, rec.NumRows())
	for i := range rows {
		cols.row(i, &rows[i])
	}
	return rows, nil
}

// batchCols holds a record's columns found by name. Missing optional columns are
// nil; a missing signal column reads as absent.
type batchCols struct {
	ids, sources *array.String
	times        *array.Timestamp
	timeUnit     arrow.TimeUnit
	ingest       *array.Timestamp
	ingestUnit   arrow.TimeUnit
	late         *array.Boolean
	signals      [features.NumSignals]*array.Float64
}

// columnsOf finds the readings columns of rec. athlete_id, source and time are
// required; any other column may be absent.
func columnsOf(rec arrow.Record) (*batchCols, error) {
	var c batchCols
	var ok bool
	if c.ids, ok = column[*array.String](rec, ColAthleteID); !ok {
		return nil, fmt.Errorf("column %s: %w", ColAthleteID, ErrNotReadings)
	}
	if c.sources, ok = column[*array.String](rec, ColSource); !ok {
		return nil, fmt.Errorf("column %s: %w", ColSource, ErrNotReadings)
	}
	if c.times, ok = column[*array.Timestamp](rec, ColTime); !ok {
		return nil, fmt.Errorf("column %s: %w", ColTime, ErrNotReadings)
	}
	c.timeUnit = c.times.DataType().(*arrow.TimestampType).Unit
	if c.ingest, ok = column[*array.Timestamp](rec, ColIngestTime); ok {
		c.ingestUnit = c.ingest.DataType().(*arrow.TimestampType).Unit
	}
	c.late, _ = column[*array.Boolean](rec, ColLate)
	for s := range features.NumSignals {
		c.signals[s], _ = column[*array.Float64](rec, s.Name())
	}
	return &c, nil
}

// column returns the record's column of that name if it has the expected type.
func column[T arrow.Array](rec arrow.Record, name string) (T, bool) {
	var zero T
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		return zero, false
	}
	col, ok := rec.Column(idx[0]).(T)
	return col, ok
}

// eventMicros returns row i's event time in Unix microseconds.
func (c *batchCols) eventMicros(i int) int64 {
	return toMicros(int64(c.times.Value(i)), c.timeUnit)
}

// row decodes row i into dst.
func (c *batchCols) row(i int, dst *Row) {
	dst.AthleteID = c.ids.Value(i)
	dst.Source = c.sources.Value(i)
	dst.Time = c.times.Value(i).ToTime(c.timeUnit)
	dst.IngestTime = time.Time{}
	if c.ingest != nil && c.ingest.IsValid(i) {
		dst.IngestTime = c.ingest.Value(i).ToTime(c.ingestUnit)
	}
	dst.Late = c.late != nil && c.late.IsValid(i) && c.late.Value(i)
	for s, col := range c.signals {
		if col == nil || col.IsNull(i) {
			dst.Values[s] = math.NaN()
		} else {
			dst.Values[s] = col.Value(i)
		}
	}
}

// toMicros converts a timestamp of the given unit to microseconds.
func toMicros(v int64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return v * 1e6
	case arrow.Millisecond:
		return v * 1e3
	case arrow.Nanosecond:
		q := v / 1e3
		if v%1e3 < 0 {
			q-- // round down, as time does before 1970
		}
		return q
	}
	return v
}
