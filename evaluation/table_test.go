package evaluation

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// sameRow compares rows, NaN equal to NaN.
func sameRow(a, b Row) bool {
	eq := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	return a.Analysis == b.Analysis && a.Version == b.Version && a.Segment == b.Segment &&
		a.Metric == b.Metric && eq(a.Value, b.Value) && eq(a.Lower, b.Lower) &&
		eq(a.Upper, b.Upper) && a.N == b.N
}

func exampleRows(t *testing.T) []Row {
	t.Helper()
	a, b := simulated(rand.New(rand.NewPCG(4, 4)), 80, 1.5)
	a.Segment = make([]string, len(a.Label))
	for i := range a.Segment {
		a.Segment[i] = []string{"run", "bike"}[i%2]
	}
	segs, err := BySegment(a)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compare(a, b, BootstrapOptions{Resamples: 200})
	if err != nil {
		t.Fatal(err)
	}
	ab, err := AnalyzeAB(a, b, ABOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows := SegmentTable("v1", segs)
	rows = append(rows, c.Table()...)
	return append(rows, ab.Table()...)
}

func TestParquetRoundTrip(t *testing.T) {
	rows := exampleRows(t)
	var buf bytes.Buffer
	if err := WriteParquet(&buf, rows); err != nil {
		t.Fatal(err)
	}
	got, err := ReadParquet(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows back, wrote %d", len(got), len(rows))
	}
	withInterval := 0
	for i := range rows {
		if !sameRow(got[i], rows[i]) {
			t.Errorf("row %d: got %+v, wrote %+v", i, got[i], rows[i])
		}
		if !math.IsNaN(rows[i].Lower) {
			withInterval++
		}
	}
	// The comparison's differences and the A/B difference carry intervals.
	if withInterval < 4 {
		t.Errorf("only %d rows carry an interval", withInterval)
	}
}

func TestReadParquetDamaged(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteParquet(&buf, exampleRows(t)); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	footerFlipped := bytes.Clone(good)
	footerFlipped[len(good)-9] ^= 1
	flipped := bytes.Clone(good)
	for i := 8; i < len(flipped)/2; i += 7 {
		flipped[i] ^= 0x5a
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"damaged pages", flipped},
		{"not parquet", []byte("PAR1 this is not a parquet file PAR1")},
		{"one footer bit flipped", footerFlipped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadParquet(bytes.NewReader(tt.data)); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestResultsEncodeAsJSON(t *testing.T) {
	a, b := simulated(rand.New(rand.NewPCG(5, 5)), 40, 1)
	c, err := Compare(a, b, BootstrapOptions{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	ab, err := AnalyzeAB(a, b, ABOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{c, ab} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		var back map[string]any
		if err := json.Unmarshal(data, &back); err != nil || len(back) == 0 {
			t.Errorf("%T: %v", v, err)
		}
	}
}

func FuzzReadParquet(f *testing.F) {
	var buf bytes.Buffer
	rows := []Row{{Analysis: "metrics", Version: "v1", Metric: "mae", Value: 0.3,
		Lower: math.NaN(), Upper: math.NaN(), N: 12}}
	if err := WriteParquet(&buf, rows); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ReadParquet(bytes.NewReader(data)); err != nil &&
			!errors.Is(err, ErrMalformed) {
			t.Errorf("undocumented error %v", err)
		}
	})
}

func BenchmarkCompare(b *testing.B) {
	pa, pb := simulated(rand.New(rand.NewPCG(6, 6)), 10000, 1.1)
	b.ResetTimer()
	for range b.N {
		if _, err := Compare(pa, pb, BootstrapOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
