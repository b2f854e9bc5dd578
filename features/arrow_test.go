package features

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// testVectors returns vectors of two athletes with present, stale and missing
// features, and one of an athlete with no readings.
func testVectors(t *testing.T) []*Vector {
	t.Helper()
	asOf := t0.Add(30 * time.Minute)
	a := NewAthleteWindow("a1", DefaultWindowOptions())
	b := NewAthleteWindow("b2", DefaultWindowOptions())
	for i := range 60 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		a.Add(fullReading(at, i))
		if i < 20 { // b's watch stopped ten minutes in: stale and missing features
			b.Add(hrReading(at, float64(110+i)))
		}
	}
	vs := []*Vector{NewVector(), NewVector(), NewVector()}
	a.Vector(asOf, vs[0])
	b.Vector(asOf, vs[1])
	vs[2].Reset("nobody", asOf)

	var stale, missing bool
	for _, st := range vs[1].Status {
		stale = stale || st == StatusStale
		missing = missing || st == StatusMissing
	}
	if !stale || !missing {
		t.Fatalf("fixture lacks stale (%v) or missing (%v) features", stale, missing)
	}
	return vs
}

func TestArrowRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	vs := testVectors(t)
	rec, err := NewRecord(mem, vs)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != 3 || rec.NumCols() != int64(3+2*CurrentSchema().Len()) {
		t.Fatalf("record %d×%d", rec.NumRows(), rec.NumCols())
	}

	// Missing values are nulls in Arrow, not NaNs.
	psi := rec.Column(arrowFirstValue + 2*idxPSI).(*array.Float64)
	if !psi.IsNull(2) {
		t.Error("missing feature is not null")
	}

	got, err := ReadRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range vs {
		g := got[i]
		if g.AthleteID != want.AthleteID || !g.AsOf.Equal(want.AsOf) ||
			!g.FreshestReading.Equal(want.FreshestReading) || g.SchemaVersion != SchemaVersion {
			t.Errorf("row %d: %s %v %v, want %s %v %v", i, g.AthleteID, g.AsOf,
				g.FreshestReading, want.AthleteID, want.AsOf, want.FreshestReading)
		}
		assertSameVector(t, g, want)
	}
}

func TestArrowRejectsOtherSchemas(t *testing.T) {
	vs := testVectors(t)
	rec, err := NewRecord(nil, vs)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()

	otherVersion := arrow.NewMetadata([]string{arrowVersionKey}, []string{"0"})
	dropped := rec.Schema().Fields()[1:]
	cases := []struct {
		name string
		rec  func() arrow.Record
	}{
		{"other version", func() arrow.Record {
			sc := arrow.NewSchema(rec.Schema().Fields(), &otherVersion)
			return array.NewRecord(sc, rec.Columns(), rec.NumRows())
		}},
		{"column missing", func() arrow.Record {
			md := rec.Schema().Metadata()
			return array.NewRecord(arrow.NewSchema(dropped, &md), rec.Columns()[1:],
				rec.NumRows())
		}},
		{"status without null", func() arrow.Record {
			// Swap the psi status column for the body_mass_kg one, all missing.
			cols := append([]arrow.Array(nil), rec.Columns()...)
			cols[arrowFirstValue+2*idxPSI+1] = cols[arrowFirstValue+2*idxBodyMass+1]
			return array.NewRecord(rec.Schema(), cols, rec.NumRows())
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.rec()
			defer r.Release()
			if _, err := ReadRecord(r); !errors.Is(err, ErrSchemaMismatch) {
				t.Errorf("ReadRecord: %v, want ErrSchemaMismatch", err)
			}
		})
	}

	bad := NewVector()
	bad.SchemaVersion = SchemaVersion + 1
	if _, err := NewRecord(nil, []*Vector{bad}); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("NewRecord of another version: %v, want ErrSchemaMismatch", err)
	}
}

func TestArrowStaleKeepsValue(t *testing.T) {
	v := NewVector()
	v.set(idxWBGT, 31.5, 1, time.Hour.Milliseconds())
	rec, err := NewRecord(nil, []*Vector{v})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	vals := rec.Column(arrowFirstValue + 2*idxWBGT).(*array.Float64)
	codes := rec.Column(arrowFirstValue + 2*idxWBGT + 1).(*array.Uint8)
	if vals.IsNull(0) || vals.Value(0) != 31.5 || Status(codes.Value(0)) != StatusStale {
		t.Errorf("stale wbgt stored as %v (null %v) status %d", vals.Value(0), vals.IsNull(0),
			codes.Value(0))
	}
	if math.IsNaN(vals.Value(0)) {
		t.Error("stale value lost")
	}
}
