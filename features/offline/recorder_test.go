package offline_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
)

func hrAt(athlete string, at time.Time, bpm float64) features.Reading {
	r := features.NewReading(athlete, "watch", at)
	r.Set(features.HeartRate, bpm)
	return r
}

// lateFlags returns the offline rows' late flags by heart rate, which the tests
// keep distinct.
func lateFlags(t *testing.T, s *offline.Store) map[float64]bool {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[float64]bool{}
	for _, r := range collect(t, s, offline.Query{}) {
		out[r.Values[features.HeartRate]] = r.Late
	}
	return out
}

func TestRecorderKeepsLateReadings(t *testing.T) {
	ctx := context.Background()
	log := openStore(t, nil)
	online := features.NewStore(nil)
	rec := offline.NewRecorder(online, log, 0)

	newest := t0.Add(10 * time.Minute)
	steps := []struct {
		reading features.Reading
		want    features.AddResult
	}{
		{hrAt("a", newest, 101), features.Applied},
		{hrAt("a", newest.Add(-time.Minute), 102), features.Applied},
		{hrAt("a", newest.Add(-5*time.Minute), 103), features.Late},
		{hrAt("a", newest, 104), features.Replaced},
		{hrAt("a", newest.Add(time.Second), 400), features.Rejected},
	}
	for _, s := range steps {
		got, err := rec.Ingest(ctx, s.reading)
		if got != s.want || (err != nil) != (s.want == features.Rejected) {
			t.Fatalf("Ingest %v: %v, %v; want %v", s.reading.Values[0], got, err, s.want)
		}
	}
	want := map[float64]bool{101: false, 102: false, 103: true, 104: false, 400: false}
	if got := lateFlags(t, log); !maps.Equal(got, want) {
		t.Errorf("offline rows' late flags %v, want %v", got, want)
	}
	if c, _ := online.Counts(ctx); c.Late != 1 || c.Rejected != 1 {
		t.Errorf("online counts %+v, want one late and one rejected", c)
	}
}

func TestRecorderBatchMarksLate(t *testing.T) {
	ctx := context.Background()
	log := openStore(t, nil)
	online := features.NewStore(nil)
	rec := offline.NewRecorder(online, log, 3*time.Minute)

	newest := t0.Add(10 * time.Minute)
	if _, err := rec.Ingest(ctx, hrAt("a", newest, 100)); err != nil {
		t.Fatal(err)
	}
	// Written newest first; the oldest is beyond the lateness of the held newest.
	batch := []features.Reading{hrAt("a", newest.Add(time.Minute), 111),
		hrAt("a", newest.Add(-2*time.Minute), 112), hrAt("a", newest.Add(-4*time.Minute), 113),
		hrAt("b", t0, 114)}
	c, err := rec.IngestBatch(ctx, batch)
	if err != nil || c.Applied != 3 || c.Late != 1 {
		t.Fatalf("IngestBatch = %+v, %v; want 3 applied and 1 late", c, err)
	}
	want := map[float64]bool{100: false, 111: false, 112: false, 113: true, 114: false}
	if got := lateFlags(t, log); !maps.Equal(got, want) {
		t.Errorf("offline rows' late flags %v, want %v", got, want)
	}
}

// failingStore is an online store whose writes fail.
type failingStore struct{ features.OnlineStore }

var errDown = errors.New("store down")

func (failingStore) Ingest(context.Context, features.Reading) (features.AddResult, error) {
	return features.Rejected, errDown
}

func TestRecorderSkipsUnacknowledged(t *testing.T) {
	log := openStore(t, nil)
	rec := offline.NewRecorder(failingStore{features.NewStore(nil)}, log, 0)
	if _, err := rec.Ingest(context.Background(), hrAt("a", t0, 100)); !errors.Is(err,
		errDown) {
		t.Fatalf("Ingest: %v, want the store's error", err)
	}
	if got := lateFlags(t, log); len(got) != 0 {
		t.Errorf("offline log holds %d rows of a reading never acknowledged", len(got))
	}
}
