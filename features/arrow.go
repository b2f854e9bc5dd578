package features

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// ErrSchemaMismatch is returned for a record or vector of another feature schema
// version or layout than this package's.
var ErrSchemaMismatch = errors.New("feature schema mismatch")

// Arrow layout of a batch of vectors, one row per vector:
//
//	athlete_id        utf8
//	as_of             timestamp[ms, UTC]
//	freshest_reading  timestamp[ms, UTC], null when the vector drew on no reading
//	<feature>         float64, null when missing (a stale value is kept)
//	<feature>_status  uint8: 0 missing, 1 present, 2 stale (Status)
//
// Each feature is a flat pair of columns rather than a struct or a dictionary so
// that every feature reads by its own name in Parquet, pandas and SQL without
// unnesting or decoding, and a status costs one byte per cell, which Parquet's
// run-length encoding shrinks to almost nothing as statuses rarely change. The
// schema version is in the schema metadata under arrowVersionKey. Per-feature event
// times are not stored: training asks for point-in-time rows by as_of.
const (
	arrowVersionKey = "hydrocast.feature_schema_version"
	arrowUnitKey    = "hydrocast.unit"
	arrowCodesKey   = "hydrocast.status_codes"
	statusSuffix    = "_status"
	arrowFirstValue = 3 // columns before the first feature
)

var arrowSchema = buildArrowSchema()

// ArrowSchema returns the Arrow schema of feature records (see NewRecord).
func ArrowSchema() *arrow.Schema { return arrowSchema }

func buildArrowSchema() *arrow.Schema {
	ts := arrow.FixedWidthTypes.Timestamp_ms
	fields := []arrow.Field{
		{Name: "athlete_id", Type: arrow.BinaryTypes.String},
		{Name: "as_of", Type: ts},
		{Name: "freshest_reading", Type: ts, Nullable: true},
	}
	codes := arrow.NewMetadata([]string{arrowCodesKey}, []string{"0=missing,1=present,2=stale"})
	for _, f := range currentSchema.features {
		unit := arrow.NewMetadata([]string{arrowUnitKey}, []string{f.Unit})
		fields = append(fields,
			arrow.Field{Name: f.Name, Type: arrow.PrimitiveTypes.Float64, Nullable: true,
				Metadata: unit},
			arrow.Field{Name: f.Name + statusSuffix, Type: arrow.PrimitiveTypes.Uint8,
				Metadata: codes},
		)
	}
	md := arrow.NewMetadata([]string{arrowVersionKey}, []string{strconv.Itoa(SchemaVersion)})
	return arrow.NewSchema(fields, &md)
}

// RecordBuilder gathers vectors into an Arrow record. It is not safe for concurrent
// use; call Release when done with it.
type RecordBuilder struct {
	b      *array.RecordBuilder
	ids    *array.StringBuilder
	asOf   *array.TimestampBuilder
	fresh  *array.TimestampBuilder
	values []*array.Float64Builder
	status []*array.Uint8Builder
}

// NewRecordBuilder returns a builder that allocates from mem (nil means
// memory.DefaultAllocator).
func NewRecordBuilder(mem memory.Allocator) *RecordBuilder {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, arrowSchema)
	rb := &RecordBuilder{
		b:     b,
		ids:   b.Field(0).(*array.StringBuilder),
		asOf:  b.Field(1).(*array.TimestampBuilder),
		fresh: b.Field(2).(*array.TimestampBuilder),
	}
	for i := range currentSchema.Len() {
		col := arrowFirstValue + 2*i
		rb.values = append(rb.values, b.Field(col).(*array.Float64Builder))
		rb.status = append(rb.status, b.Field(col+1).(*array.Uint8Builder))
	}
	return rb
}

// Append adds a vector as a row. It fails with ErrSchemaMismatch for a vector of
// another schema version or length.
func (rb *RecordBuilder) Append(v *Vector) error {
	n := currentSchema.Len()
	if v.SchemaVersion != SchemaVersion || len(v.Values) != n || len(v.Status) != n {
		return fmt.Errorf("append vector of schema %d with %d values: %w",
			v.SchemaVersion, len(v.Values), ErrSchemaMismatch)
	}

	rb.ids.Append(v.AthleteID)
	rb.asOf.Append(arrow.Timestamp(v.AsOf.UnixMilli()))
	if v.FreshestReading.IsZero() {
		rb.fresh.AppendNull()
	} else {
		rb.fresh.Append(arrow.Timestamp(v.FreshestReading.UnixMilli()))
	}
	for i, st := range v.Status {
		if st == StatusMissing {
			rb.values[i].AppendNull()
		} else {
			rb.values[i].Append(v.Values[i])
		}
		rb.status[i].Append(uint8(st))
	}
	return nil
}

// NewRecord returns the rows appended so far as a record and empties the builder.
// The caller releases the record.
func (rb *RecordBuilder) NewRecord() arrow.Record { return rb.b.NewRecord() }

// Release frees the builder's buffers.
func (rb *RecordBuilder) Release() { rb.b.Release() }

// NewRecord builds a record of the vectors, one row each, allocating from mem (nil
// means memory.DefaultAllocator). The caller releases the record.
func NewRecord(mem memory.Allocator, vs []*Vector) (arrow.Record, error) {
	rb := NewRecordBuilder(mem)
	defer rb.Release()
	for _, v := range vs {
		if err := rb.Append(v); err != nil {
			return nil, fmt.Errorf("build feature record: %w", err)
		}
	}
	return rb.NewRecord(), nil
}

// ReadRecord turns a feature record back into vectors, one per row. Columns are found
// by name, so extra columns and another order are fine; a missing column, a column
// of another type or another schema version fails with ErrSchemaMismatch. The
// record does not carry per-feature event times: EventUnixMilli stays zero.
func ReadRecord(rec arrow.Record) ([]*Vector, error) {
	cols, err := recordColumns(rec)
	if err != nil {
		return nil, fmt.Errorf("read feature record: %w", err)
	}

	vs := make([]*Vector, rec.NumRows())
	for row := range vs {
		v, err := cols.vector(row)
		if err != nil {
			return nil, fmt.Errorf("read feature record row %d: %w", row, err)
		}
		vs[row] = v
	}
	return vs, nil
}

// recordCols holds a record's columns in the order of the feature schema.
type recordCols struct {
	ids    *array.String
	asOf   *array.Timestamp
	fresh  *array.Timestamp
	values []*array.Float64
	status []*array.Uint8
}

func recordColumns(rec arrow.Record) (*recordCols, error) {
	sc := rec.Schema()
	md := sc.Metadata()
	if k := md.FindKey(arrowVersionKey); k < 0 || md.Values()[k] != strconv.Itoa(SchemaVersion) {
		return nil, fmt.Errorf("schema version not %d: %w", SchemaVersion, ErrSchemaMismatch)
	}

	var c recordCols
	var ok [3]bool
	c.ids, ok[0] = column[*array.String](rec, "athlete_id")
	c.asOf, ok[1] = column[*array.Timestamp](rec, "as_of")
	c.fresh, ok[2] = column[*array.Timestamp](rec, "freshest_reading")
	if !ok[0] || !ok[1] || !ok[2] {
		return nil, fmt.Errorf("identity columns: %w", ErrSchemaMismatch)
	}
	for _, f := range currentSchema.features {
		v, okV := column[*array.Float64](rec, f.Name)
		s, okS := column[*array.Uint8](rec, f.Name+statusSuffix)
		if !okV || !okS {
			return nil, fmt.Errorf("columns of %s: %w", f.Name, ErrSchemaMismatch)
		}
		c.values = append(c.values, v)
		c.status = append(c.status, s)
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

// vector builds the vector of one row.
func (c *recordCols) vector(row int) (*Vector, error) {
	if c.ids.IsNull(row) || c.asOf.IsNull(row) {
		return nil, fmt.Errorf("null athlete or as-of: %w", ErrSchemaMismatch)
	}
	v := NewVector()
	v.AthleteID = c.ids.Value(row)
	v.AsOf = time.UnixMilli(int64(c.asOf.Value(row))).UTC()
	if !c.fresh.IsNull(row) {
		v.FreshestReading = time.UnixMilli(int64(c.fresh.Value(row))).UTC()
	}
	for i := range v.Values {
		st := Status(c.status[i].Value(row))
		if st > StatusStale {
			return nil, fmt.Errorf("status %d of %s: %w", st, currentSchema.features[i].Name,
				ErrSchemaMismatch)
		}
		null := c.values[i].IsNull(row)
		if null != (st == StatusMissing) {
			return nil, fmt.Errorf("%s is %v with null %v: %w", currentSchema.features[i].Name,
				st, null, ErrSchemaMismatch)
		}
		v.Status[i] = st
		v.Values[i] = math.NaN()
		if !null {
			v.Values[i] = c.values[i].Value(row)
		}
	}
	return v, nil
}
