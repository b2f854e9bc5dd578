// Package storetest is the conformance suite of features.OnlineStore: every store,
// in memory or on Redis, runs the same tests through Run.
package storetest

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// NewStore returns an empty store with the default window options, cleaned up when
// the test ends.
type NewStore func(t *testing.T) features.OnlineStore

// base is the minute-aligned instant the suite's readings are built around.
var base = time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s features.OnlineStore)
	}{
		{"IngestAndVector", testIngestAndVector},
		{"Rejected", testRejected},
		{"UnknownAthlete", testUnknownAthlete},
		{"DuplicatesAndLate", testDuplicatesAndLate},
		{"BatchNewestFirst", testBatchNewestFirst},
		{"BatchConflictLaterWins", testBatchConflictLaterWins},
		{"Vectors", testVectors},
		{"Newest", testNewest},
		{"Delete", testDelete},
		{"ConcurrentIngest", testConcurrentIngest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

// hr returns a watch reading of the athlete with a heart rate.
func hr(athlete string, at time.Time, bpm float64) features.Reading {
	r := features.NewReading(athlete, "watch", at)
	r.Set(features.HeartRate, bpm)
	return r
}

// get returns a feature of a vector taken from the store.
func get(t *testing.T, s features.OnlineStore, athlete string, asOf time.Time,
	name string) (float64, features.Status) {
	t.Helper()
	v := features.NewVector()
	if err := s.Vector(context.Background(), athlete, asOf, v); err != nil {
		t.Fatalf("Vector(%s): %v", athlete, err)
	}
	val, st, ok := v.Get(name)
	if !ok {
		t.Fatalf("no feature %s", name)
	}
	return val, st
}

func mustIngest(t *testing.T, s features.OnlineStore, r features.Reading,
	want features.AddResult) {
	t.Helper()
	got, err := s.Ingest(context.Background(), r)
	if err != nil || got != want {
		t.Fatalf("Ingest(%s at %v) = %v, %v; want %v", r.AthleteID, r.Time, got, err, want)
	}
}

func testIngestAndVector(t *testing.T, s features.OnlineStore) {
	ctx := context.Background()
	for i, bpm := range []float64{100, 110, 120} {
		mustIngest(t, s, hr("a1", base.Add(time.Duration(i)*30*time.Second), bpm),
			features.Applied)
	}
	mustIngest(t, s, hr("b2", base, 90), features.Applied)

	asOf := base.Add(time.Minute)
	if mean, st := get(t, s, "a1", asOf, "heart_rate_bpm_mean_5m"); mean != 110 ||
		st != features.StatusPresent {
		t.Errorf("a1 mean %v (%v), want 110 present", mean, st)
	}
	if last, _ := get(t, s, "b2", asOf, "heart_rate_bpm_last"); last != 90 {
		t.Errorf("b2 last %v, want 90", last)
	}

	ids, err := s.Athletes(ctx)
	if err != nil || !slices.Equal(ids, []string{"a1", "b2"}) {
		t.Errorf("Athletes = %v, %v", ids, err)
	}
	c, err := s.Counts(ctx)
	if err != nil || c.Applied != 4 || c.Total() != 4 {
		t.Errorf("Counts = %+v, %v; want 4 applied", c, err)
	}
}

func testRejected(t *testing.T, s features.OnlineStore) {
	ctx := context.Background()
	bad := hr("a1", base, 400)
	res, err := s.Ingest(ctx, bad)
	var ve *features.ValidationError
	if res != features.Rejected || !errors.Is(err, features.ErrInvalidReading) ||
		!errors.As(err, &ve) || ve.Field != "heart_rate_bpm" {
		t.Fatalf("Ingest of 400 bpm = %v, %v; want rejected on heart_rate_bpm", res, err)
	}
	s.Ingest(ctx, hr("a1", base.Add(time.Second), 500))
	noSignal := features.NewReading("a1", "scale", base)
	s.Ingest(ctx, noSignal)

	q, err := s.Quarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		source, field string
		count         uint64
	}{{"scale", "values", 1}, {"watch", "heart_rate_bpm", 2}}
	if len(q) != len(want) {
		t.Fatalf("quarantine %+v, want %d entries", q, len(want))
	}
	for i, w := range want {
		if q[i].AthleteID != "a1" || q[i].Source != w.source || q[i].Field != w.field ||
			q[i].Count != w.count || q[i].LastReason == "" {
			t.Errorf("entry %d = %+v, want a1/%s/%s ×%d", i, q[i], w.source, w.field, w.count)
		}
	}

	// Nothing rejected reached a window.
	if ids, _ := s.Athletes(ctx); len(ids) != 0 {
		t.Errorf("athletes %v after only rejected readings", ids)
	}
	if c, _ := s.Counts(ctx); c.Rejected != 3 || c.Total() != 3 {
		t.Errorf("counts %+v, want 3 rejected", c)
	}
}

func testUnknownAthlete(t *testing.T, s features.OnlineStore) {
	v := features.NewVector()
	v.Values[0] = 1 // must be overwritten
	err := s.Vector(context.Background(), "nobody", base, v)
	if !errors.Is(err, features.ErrUnknownAthlete) {
		t.Fatalf("Vector of unknown athlete: %v, want ErrUnknownAthlete", err)
	}
	for i, st := range v.Status {
		if st != features.StatusMissing || !math.IsNaN(v.Values[i]) {
			t.Fatalf("feature %d: %v %v, want missing NaN", i, v.Values[i], st)
		}
	}
	if v.AthleteID != "nobody" || !v.AsOf.Equal(base) {
		t.Errorf("vector identity %s %v", v.AthleteID, v.AsOf)
	}
}

func testNewest(t *testing.T, s features.OnlineStore) {
	ctx := context.Background()
	if _, err := s.Newest(ctx, "a"); !errors.Is(err, features.ErrUnknownAthlete) {
		t.Fatalf("Newest of unknown athlete: %v, want ErrUnknownAthlete", err)
	}
	// Out of order: the newest is the latest event time, not the last ingested.
	mustIngest(t, s, hr("a", base.Add(time.Minute), 120), features.Applied)
	mustIngest(t, s, hr("a", base.Add(30*time.Second), 118), features.Applied)
	got, err := s.Newest(ctx, "a")
	if err != nil || !got.Equal(base.Add(time.Minute)) {
		t.Fatalf("Newest = %v, %v; want %v", got, err, base.Add(time.Minute))
	}
}

func testDuplicatesAndLate(t *testing.T, s features.OnlineStore) {
	at := base.Add(10 * time.Minute)
	mustIngest(t, s, hr("a1", at, 100), features.Applied)
	mustIngest(t, s, hr("a1", at, 100), features.Duplicate)
	mustIngest(t, s, hr("a1", at, 130), features.Replaced)
	mustIngest(t, s, hr("a1", at.Add(-time.Minute), 90), features.Applied)
	mustIngest(t, s, hr("a1", at.Add(-10*time.Minute), 80), features.Late)

	if n, _ := get(t, s, "a1", at, "heart_rate_bpm_count_15m"); n != 2 {
		t.Errorf("count %v, want 2", n)
	}
	if last, _ := get(t, s, "a1", at, "heart_rate_bpm_last"); last != 130 {
		t.Errorf("last %v, want the replacing 130", last)
	}
	c, _ := s.Counts(context.Background())
	want := features.Counts{Applied: 2, Duplicate: 1, Replaced: 1, Late: 1}
	if c != want {
		t.Errorf("counts %+v, want %+v", c, want)
	}
}

func testBatchNewestFirst(t *testing.T, s features.OnlineStore) {
	// Ten minutes of readings written newest first: sorted by event time in the
	// batch, none is late and the last value is the newest reading's, not the last
	// written one's.
	var batch []features.Reading
	for i := 19; i >= 0; i-- {
		batch = append(batch, hr("a1", base.Add(time.Duration(i)*30*time.Second),
			float64(100+i)))
	}
	c, err := s.IngestBatch(context.Background(), batch)
	if err != nil || c.Applied != 20 || c.Total() != 20 {
		t.Fatalf("IngestBatch = %+v, %v; want 20 applied", c, err)
	}
	asOf := base.Add(10 * time.Minute)
	if last, _ := get(t, s, "a1", asOf, "heart_rate_bpm_last"); last != 119 {
		t.Errorf("last %v, want 119", last)
	}
	if slope, _ := get(t, s, "a1", asOf, "heart_rate_bpm_slope_15m"); math.Abs(slope-2) > 1e-9 {
		t.Errorf("slope %v bpm/min, want 2", slope)
	}
}

func testBatchConflictLaterWins(t *testing.T, s features.OnlineStore) {
	// Two versions of one reading in a batch: the one ingested later wins, whatever
	// the batch order of the others.
	at := base.Add(5 * time.Minute)
	bad := features.NewReading("a1", "watch", at)
	bad.Set(features.HeartRate, 300) // rejected, so it cannot win
	batch := []features.Reading{
		hr("a1", at, 150), hr("a1", at.Add(-time.Minute), 120), hr("a1", at, 140), bad,
	}
	c, err := s.IngestBatch(context.Background(), batch)
	want := features.Counts{Applied: 2, Replaced: 1, Rejected: 1}
	if err != nil || c != want {
		t.Fatalf("IngestBatch = %+v, %v; want %+v", c, err, want)
	}
	if last, _ := get(t, s, "a1", at, "heart_rate_bpm_last"); last != 140 {
		t.Errorf("last %v, want 140 (ingested after 150)", last)
	}
}

func testVectors(t *testing.T, s features.OnlineStore) {
	ctx := context.Background()
	mustIngest(t, s, hr("a1", base, 100), features.Applied)
	mustIngest(t, s, hr("b2", base, 120), features.Applied)

	asOf := base.Add(time.Minute)
	rec, err := s.Vectors(ctx, []string{"b2", "nobody", "a1"}, asOf)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	vs, err := features.ReadRecord(rec)
	if err != nil {
		t.Fatal(err)
	}

	ids := []string{"b2", "nobody", "a1"}
	for i, v := range vs {
		if v.AthleteID != ids[i] || !v.AsOf.Equal(asOf) {
			t.Errorf("row %d: %s %v, want %s %v", i, v.AthleteID, v.AsOf, ids[i], asOf)
		}
		if ids[i] == "nobody" {
			continue
		}
		want := features.NewVector()
		if err := s.Vector(ctx, ids[i], asOf, want); err != nil {
			t.Fatal(err)
		}
		for k := range want.Values {
			same := want.Values[k] == v.Values[k] ||
				(math.IsNaN(want.Values[k]) && math.IsNaN(v.Values[k]))
			if !same || want.Status[k] != v.Status[k] {
				t.Errorf("row %d feature %d: %v %v, want %v %v", i, k, v.Values[k],
					v.Status[k], want.Values[k], want.Status[k])
			}
		}
	}
	if _, st, _ := vs[1].Get("heart_rate_bpm_last"); st != features.StatusMissing {
		t.Errorf("unknown athlete's row: %v, want missing", st)
	}
}

func testDelete(t *testing.T, s features.OnlineStore) {
	ctx := context.Background()
	mustIngest(t, s, hr("a1", base, 100), features.Applied)
	mustIngest(t, s, hr("b2", base, 100), features.Applied)
	s.Ingest(ctx, hr("a1", base, 999))

	if err := s.Delete(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "never-seen"); err != nil {
		t.Errorf("Delete of an unknown athlete: %v", err)
	}
	if ids, _ := s.Athletes(ctx); !slices.Equal(ids, []string{"b2"}) {
		t.Errorf("athletes %v after delete, want [b2]", ids)
	}
	err := s.Vector(ctx, "a1", base, features.NewVector())
	if !errors.Is(err, features.ErrUnknownAthlete) {
		t.Errorf("Vector after delete: %v, want ErrUnknownAthlete", err)
	}
	q, _ := s.Quarantine(ctx)
	for _, e := range q {
		if e.AthleteID == "a1" {
			t.Errorf("quarantine still names a1: %+v", e)
		}
	}
}

func testConcurrentIngest(t *testing.T, s features.OnlineStore) {
	const athletes, readings = 8, 200
	ctx := context.Background()
	var wg sync.WaitGroup
	for a := range athletes {
		wg.Go(func() {
			id := string(rune('a' + a))
			v := features.NewVector()
			for i := range readings {
				at := base.Add(time.Duration(i) * 30 * time.Second)
				if _, err := s.Ingest(ctx, hr(id, at, 100)); err != nil {
					t.Error(err)
					return
				}
				if err := s.Vector(ctx, id, at, v); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	c, err := s.Counts(ctx)
	if err != nil || c.Applied != athletes*readings {
		t.Errorf("counts %+v, %v; want %d applied", c, err, athletes*readings)
	}
}
