package evaluation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// ErrMalformed reports a Parquet file that is not a table WriteParquet wrote.
var ErrMalformed = errors.New("malformed results table")

// Row is one line of the long table every result flattens to for Parquet, the
// shape a notebook reads straight into a data frame. (The JSON form of a result is
// its own type, encoded as it is.)
type Row struct {
	// Analysis is "metrics", "segment", "comparison" or "ab".
	Analysis string
	// Version is the model version, or for comparisons and A/B analyses "a", "b" or
	// "b-a" (the difference).
	Version string
	Segment string
	Metric  string
	Value   float64
	// Lower and Upper bound Value's confidence interval; NaN (null in Parquet)
	// when there is none.
	Lower, Upper float64
	N            int64 // rows (or sessions, for A/B outcomes) behind Value
	// Output names the model output the row scores, for models with several (the
	// thermal family's three horizons); "" when the caller does not say.
	Output string
}

// Analyses named in Row.Analysis.
const (
	AnalysisMetrics    = "metrics"
	AnalysisSegment    = "segment"
	AnalysisComparison = "comparison"
	AnalysisAB         = "ab"
)

// Table flattens metrics of one version (and segment, "" for all rows).
func (m Metrics) Table(analysis, version, segment string) []Row {
	row := func(metric string, v float64) Row {
		return Row{Analysis: analysis, Version: version, Segment: segment, Metric: metric,
			Value: v, Lower: math.NaN(), Upper: math.NaN(), N: int64(m.N)}
	}
	out := []Row{row(MetricMAE, m.MAE), row(MetricRMSE, m.RMSE), row(MetricBias, m.Bias)}
	if m.R2 != nil {
		out = append(out, row(MetricR2, *m.R2))
	}
	if m.Coverage != nil {
		out = append(out, row(MetricCoverage, *m.Coverage))
	}
	return out
}

// SegmentTable flattens a per-segment table of one version.
func SegmentTable(version string, segs []SegmentMetrics) []Row {
	var out []Row
	for _, s := range segs {
		out = append(out, s.Metrics.Table(AnalysisSegment, version, s.Segment)...)
	}
	return out
}

// Table flattens a comparison: each version's metrics, then the differences with
// their intervals under version "b-a".
func (c Comparison) Table() []Row {
	out := c.A.Table(AnalysisComparison, "a", "")
	out = append(out, c.B.Table(AnalysisComparison, "b", "")...)
	for _, d := range c.Differences {
		out = append(out, Row{Analysis: AnalysisComparison, Version: "b-a", Metric: d.Metric,
			Value: d.Diff, Lower: d.Lower, Upper: d.Upper, N: int64(c.Rows)})
	}
	return out
}

// Table flattens an A/B analysis: each arm's metrics and mean outcome, then the
// difference with its interval and p-value under version "b-a".
func (r ABResult) Table() []Row {
	var out []Row
	for _, a := range []struct {
		name string
		arm  Arm
	}{{"a", r.A}, {"b", r.B}} {
		out = append(out, a.arm.Metrics.Table(AnalysisAB, a.name, "")...)
		out = append(out, Row{Analysis: AnalysisAB, Version: a.name, Metric: "outcome_mean",
			Value: a.arm.Mean, Lower: math.NaN(), Upper: math.NaN(), N: int64(a.arm.Sessions)})
	}
	n := int64(r.A.Sessions + r.B.Sessions)
	out = append(out,
		Row{Analysis: AnalysisAB, Version: "b-a", Metric: "outcome_mean", Value: r.Diff,
			Lower: r.Lower, Upper: r.Upper, N: n},
		Row{Analysis: AnalysisAB, Version: "b-a", Metric: "p_value", Value: r.PValue,
			Lower: math.NaN(), Upper: math.NaN(), N: n})
	if r.Power.MoreSessions != nil {
		out = append(out, Row{Analysis: AnalysisAB, Version: "b-a", Metric: "more_sessions",
			Value: float64(*r.Power.MoreSessions), Lower: math.NaN(), Upper: math.NaN(), N: n})
	}
	return out
}

// tableSchema is the Arrow schema of the results table.
var tableSchema = arrow.NewSchema([]arrow.Field{
	{Name: "analysis", Type: arrow.BinaryTypes.String},
	{Name: "version", Type: arrow.BinaryTypes.String},
	{Name: "segment", Type: arrow.BinaryTypes.String},
	{Name: "metric", Type: arrow.BinaryTypes.String},
	{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "lower", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "upper", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	{Name: "output", Type: arrow.BinaryTypes.String},
}, nil)

// WriteParquet writes rows as a Parquet file (Snappy-compressed, one row group).
// A non-finite Value, Lower or Upper is written as null. The file's key-value
// metadata carries a SHA-256 digest of the whole file (see ReadParquet).
func WriteParquet(w io.Writer, rows []Row) error {
	rec := buildRecord(rows)
	defer rec.Release()

	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
	fw, err := pqarrow.NewFileWriter(tableSchema, &buf, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return fmt.Errorf("write results parquet: %w", err)
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		return fmt.Errorf("write results parquet: %w", err)
	}
	if err := fw.AppendKeyValueMetadata(digestKey, digestPlaceholder); err != nil {
		fw.Close()
		return fmt.Errorf("write results parquet: %w", err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("write results parquet: %w", err)
	}

	data := buf.Bytes()
	at, err := digestOffset(data)
	if err != nil {
		return fmt.Errorf("write results parquet: %w", err)
	}
	sum := sha256.Sum256(data) // taken with the placeholder in place
	hex.Encode(data[at:at+len(digestPlaceholder)], sum[:])
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write results parquet: %w", err)
	}
	return nil
}

// buildRecord turns rows into one Arrow record of tableSchema.
func buildRecord(rows []Row) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, tableSchema)
	defer b.Release()
	for _, r := range rows {
		for i, s := range []string{r.Analysis, r.Version, r.Segment, r.Metric} {
			b.Field(i).(*array.StringBuilder).Append(s)
		}
		for i, v := range []float64{r.Value, r.Lower, r.Upper} {
			fb := b.Field(4 + i).(*array.Float64Builder)
			if finite(v) {
				fb.Append(v)
			} else {
				fb.AppendNull()
			}
		}
		b.Field(7).(*array.Int64Builder).Append(r.N)
		b.Field(8).(*array.StringBuilder).Append(r.Output)
	}
	return b.NewRecord()
}

// The digest lives in the footer's key-value metadata, as 64 hex digits that were
// zeros when the file was hashed. Checking it needs no Parquet decoding, which
// matters because Arrow's page reader can spin for minutes on some damaged page
// headers (found by FuzzReadParquet) and its parallel reader can crash outright.
const digestKey = "hydrocast.results.sha256"

var digestPlaceholder = strings.Repeat("0", sha256.Size*2)

// digestOffset finds the digest's hex digits inside the footer of a Parquet file.
// Thrift's compact encoding puts the value right after the key: a field header
// byte (field 2, binary) and the length 64 as a one-byte varint.
func digestOffset(data []byte) (int, error) {
	n := len(data)
	if n < 12 || string(data[n-4:]) != "PAR1" || string(data[:4]) != "PAR1" {
		return 0, errors.New("not a parquet file")
	}
	footerLen := int(binary.LittleEndian.Uint32(data[n-8 : n-4]))
	start := n - 8 - footerLen
	if footerLen <= 0 || start < 4 {
		return 0, errors.New("bad footer length")
	}
	k := bytes.LastIndex(data[start:n-8], []byte(digestKey))
	if k < 0 {
		return 0, errors.New("no digest: not written by WriteParquet")
	}
	at := start + k + len(digestKey) + 2
	if at+len(digestPlaceholder) > n-8 || data[at-2] != 0x18 || data[at-1] != 0x40 {
		return 0, errors.New("digest not where expected")
	}
	return at, nil
}

// verifyDigest checks the digest WriteParquet put in data.
func verifyDigest(data []byte) error {
	at, err := digestOffset(data)
	if err != nil {
		return err
	}
	var want [sha256.Size]byte
	if _, err := hex.Decode(want[:], data[at:at+len(digestPlaceholder)]); err != nil {
		return errors.New("digest not hexadecimal")
	}
	blank := bytes.Clone(data)
	copy(blank[at:], digestPlaceholder)
	if sha256.Sum256(blank) != want {
		return errors.New("digest mismatch: the file was damaged")
	}
	return nil
}

// ReadParquet reads a table WriteParquet wrote. It first checks the file's digest,
// so that a damaged file fails with ErrMalformed before any Parquet decoding; then
// it reads one column at a time, never with Arrow's parallel reader, and turns a
// decoder panic into ErrMalformed. A file made on purpose to attack Arrow's decoder
// with a matching digest is outside what this defends against.
func ReadParquet(r io.Reader) (rows []Row, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read results parquet: %w", err)
	}
	if err := verifyDigest(data); err != nil {
		return nil, fmt.Errorf("read results parquet: %w: %w", ErrMalformed, err)
	}
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("read results parquet: %w: decoder failed: %v",
				ErrMalformed, p)
		}
	}()

	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read results parquet: %w: %w", ErrMalformed, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: false},
		memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("read results parquet: %w: %w", ErrMalformed, err)
	}
	sc, err := fr.Schema()
	if err != nil || !sameColumns(sc, tableSchema) {
		return nil, fmt.Errorf("read results parquet: %w: unexpected schema", ErrMalformed)
	}

	n := pf.NumRows()
	if n < 0 || n > math.MaxInt32 {
		return nil, fmt.Errorf("read results parquet: %w: %d rows", ErrMalformed, n)
	}
	rows = make([]Row, n)
	for col := range tableSchema.NumFields() {
		if err := readColumn(fr, col, n, rows); err != nil {
			return nil, fmt.Errorf("read results parquet: column %s: %w",
				tableSchema.Field(col).Name, err)
		}
	}
	return rows, nil
}

// sameColumns reports whether two schemas have the same column names and types;
// nullability and metadata may differ after a trip through Parquet.
func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || !arrow.TypeEqual(fa.Type, fb.Type) {
			return false
		}
	}
	return true
}

// readColumn reads column col of all n rows into rows.
func readColumn(fr *pqarrow.FileReader, col int, n int64, rows []Row) error {
	cr, err := fr.GetColumn(context.Background(), col)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	defer cr.Release()
	chunked, err := cr.NextBatch(n)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	defer chunked.Release()
	if int64(chunked.Len()) != n {
		return fmt.Errorf("%w: %d values for %d rows", ErrMalformed, chunked.Len(), n)
	}

	i := 0
	for _, chunk := range chunked.Chunks() {
		for k := range chunk.Len() {
			setField(&rows[i], col, chunk, k)
			i++
		}
	}
	return nil
}

// setField stores value k of an Arrow array as field col of r.
func setField(r *Row, col int, a arrow.Array, k int) {
	switch v := a.(type) {
	case *array.String:
		s := v.Value(k)
		switch col {
		case 0:
			r.Analysis = s
		case 1:
			r.Version = s
		case 2:
			r.Segment = s
		case 3:
			r.Metric = s
		case 8:
			r.Output = s
		}
	case *array.Float64:
		f := math.NaN()
		if v.IsValid(k) {
			f = v.Value(k)
		}
		switch col {
		case 4:
			r.Value = f
		case 5:
			r.Lower = f
		case 6:
			r.Upper = f
		}
	case *array.Int64:
		r.N = v.Value(k)
	}
}

// rowJSON is the JSON form of a Row: snake_case keys, null for a missing value.
type rowJSON struct {
	Analysis string   `json:"analysis"`
	Version  string   `json:"version"`
	Segment  string   `json:"segment"`
	Metric   string   `json:"metric"`
	Value    *float64 `json:"value"`
	Lower    *float64 `json:"lower"`
	Upper    *float64 `json:"upper"`
	N        int64    `json:"n"`
	Output   string   `json:"output"`
}

// MarshalJSON encodes the row with the column names of the Parquet table; a
// non-finite Value, Lower or Upper becomes null, as in Parquet.
func (r Row) MarshalJSON() ([]byte, error) {
	orNull := func(v float64) *float64 {
		if !finite(v) {
			return nil
		}
		return &v
	}
	return json.Marshal(rowJSON{Analysis: r.Analysis, Version: r.Version,
		Segment: r.Segment, Metric: r.Metric, Value: orNull(r.Value),
		Lower: orNull(r.Lower), Upper: orNull(r.Upper), N: r.N, Output: r.Output})
}
