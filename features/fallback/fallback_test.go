package fallback

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/hydrocast/hydrocast/features"
)

var t0 = time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)

var errDown = errors.New("store down")

// flaky is an in-memory store whose reads fail while it is down.
type flaky struct {
	features.OnlineStore
	mu   sync.Mutex
	down bool
}

func (f *flaky) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *flaky) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	return nil
}

func (f *flaky) Vector(ctx context.Context, id string, asOf time.Time,
	dst *features.Vector) error {
	if err := f.failure(); err != nil {
		return err
	}
	return f.OnlineStore.Vector(ctx, id, asOf, dst)
}

func (f *flaky) Vectors(ctx context.Context, ids []string, asOf time.Time) (arrow.Record,
	error) {
	if err := f.failure(); err != nil {
		return nil, err
	}
	return f.OnlineStore.Vectors(ctx, ids, asOf)
}

func (f *flaky) Newest(ctx context.Context, id string) (time.Time, error) {
	if err := f.failure(); err != nil {
		return time.Time{}, err
	}
	return f.OnlineStore.Newest(ctx, id)
}

// session ingests ten minutes of 30-second readings of the athlete.
func session(t *testing.T, s features.OnlineStore, athlete string) time.Time {
	t.Helper()
	var at time.Time
	for i := range 20 {
		at = t0.Add(time.Duration(i) * 30 * time.Second)
		r := features.NewReading(athlete, "watch", at)
		r.Set(features.HeartRate, float64(110+i))
		if _, err := s.Ingest(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return at
}

func newFlaky(opts *Options) (*Store, *flaky) {
	inner := &flaky{OnlineStore: features.NewStore(nil)}
	return New(inner, opts), inner
}

func TestServesLastKnownWhenDown(t *testing.T) {
	ctx := context.Background()
	var covered []error
	s, inner := newFlaky(&Options{OnError: func(err error) { covered = append(covered, err) }})
	last := session(t, s, "a1")
	fresh := features.NewVector()
	if err := s.Vector(ctx, "a1", last, fresh); err != nil {
		t.Fatal(err)
	}

	inner.setDown(true)
	later := last.Add(time.Minute)
	got := features.NewVector()
	if err := s.Vector(ctx, "a1", later, got); err != nil {
		t.Fatalf("Vector while down: %v, want the last known vector", err)
	}
	assertStaleCopy(t, got, fresh, later)
	if len(covered) != 1 || !errors.Is(covered[0], errDown) {
		t.Errorf("OnError saw %v, want the store's error once", covered)
	}

	cases := []struct {
		name string
		id   string
		asOf time.Time
	}{
		{"athlete never seen", "b2", later},
		{"as of before the kept vector", "a1", last.Add(-time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.Vector(ctx, c.id, c.asOf, got); !errors.Is(err, errDown) {
				t.Errorf("Vector: %v, want the store's error", err)
			}
		})
	}

	inner.setDown(false)
	if err := s.Vector(ctx, "a1", later, got); err != nil {
		t.Fatal(err)
	}
	if _, st, _ := got.Get("heart_rate_bpm_last"); st != features.StatusPresent {
		t.Errorf("after recovery heart_rate_bpm_last is %v, want present", st)
	}
}

func TestNewestWhenDownIsTheLastKnownVector(t *testing.T) {
	ctx := context.Background()
	s, inner := newFlaky(nil)
	last := session(t, s, "a1")
	session(t, s, "never-read") // known to the store, but no vector was ever given
	v := features.NewVector()
	if err := s.Vector(ctx, "a1", last.Add(30*time.Second), v); err != nil {
		t.Fatal(err)
	}

	inner.setDown(true)
	got, err := s.Newest(ctx, "a1")
	if err != nil || !got.Equal(last.Add(30*time.Second)) {
		t.Fatalf("Newest while down: %v, %v; want the kept vector's time %v", got, err,
			last.Add(30*time.Second))
	}
	// An assessment as of that time gets the kept vector, stale.
	if err := s.Vector(ctx, "a1", got, v); err != nil {
		t.Errorf("Vector as of the fallback's newest: %v", err)
	}
	if _, err := s.Newest(ctx, "never-read"); !errors.Is(err, errDown) {
		t.Errorf("Newest of an athlete with no kept vector: %v, want the store's error", err)
	}

	inner.setDown(false)
	if got, err := s.Newest(ctx, "a1"); err != nil || !got.Equal(last) {
		t.Errorf("Newest after recovery: %v, %v; want the store's %v", got, err, last)
	}
}

// assertStaleCopy checks that got is want, as of asOf, with present values stale.
func assertStaleCopy(t *testing.T, got, want *features.Vector, asOf time.Time) {
	t.Helper()
	if got.AthleteID != want.AthleteID || !got.AsOf.Equal(asOf) ||
		!got.FreshestReading.Equal(want.FreshestReading) {
		t.Errorf("identity %s %v %v, want %s %v %v", got.AthleteID, got.AsOf,
			got.FreshestReading, want.AthleteID, asOf, want.FreshestReading)
	}
	stale := 0
	for i := range want.Values {
		wantSt := want.Status[i]
		if wantSt == features.StatusPresent {
			wantSt = features.StatusStale
		}
		g, w := got.Values[i], want.Values[i]
		if (g != w && !(math.IsNaN(g) && math.IsNaN(w))) || got.Status[i] != wantSt ||
			got.EventUnixMilli[i] != want.EventUnixMilli[i] {
			t.Errorf("feature %d: %v %v, want %v %v", i, g, got.Status[i], w, wantSt)
		}
		if got.Status[i] == features.StatusStale {
			stale++
		}
	}
	if stale == 0 {
		t.Error("nothing stale in the kept vector")
	}
}

func TestForgetsDeletedAndUnknown(t *testing.T) {
	ctx := context.Background()
	s, inner := newFlaky(nil)
	last := session(t, s, "a1")
	session(t, s, "b2")
	v := features.NewVector()
	s.Vector(ctx, "a1", last, v)
	s.Vector(ctx, "b2", last, v)

	// Deleted through the wrapper, and behind its back.
	if err := s.Delete(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	inner.OnlineStore.Delete(ctx, "b2")
	if err := s.Vector(ctx, "b2", last, v); !errors.Is(err, features.ErrUnknownAthlete) {
		t.Fatalf("Vector of b2 deleted behind the wrapper: %v", err)
	}

	inner.setDown(true)
	for _, id := range []string{"a1", "b2"} {
		if err := s.Vector(ctx, id, last, v); !errors.Is(err, errDown) {
			t.Errorf("Vector of deleted %s while down: %v, want the store's error", id, err)
		}
	}
}

func TestVectorsWhenDown(t *testing.T) {
	ctx := context.Background()
	s, inner := newFlaky(nil)
	last := session(t, s, "a1")
	rec, err := s.Vectors(ctx, []string{"a1", "nobody"}, last)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := features.ReadRecord(rec)
	rec.Release()

	inner.setDown(true)
	later := last.Add(time.Minute)
	rec, err = s.Vectors(ctx, []string{"nobody", "a1"}, later)
	if err != nil {
		t.Fatalf("Vectors while down: %v", err)
	}
	defer rec.Release()
	got, err := features.ReadRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].AthleteID != "nobody" || got[1].AthleteID != "a1" {
		t.Fatalf("rows %s %s, want nobody a1", got[0].AthleteID, got[1].AthleteID)
	}
	for _, st := range got[0].Status {
		if st != features.StatusMissing {
			t.Fatalf("row of an unknown athlete has a %v feature", st)
		}
	}
	assertStaleCopy(t, got[1], want[0], later)
}

func TestBoundedMemory(t *testing.T) {
	ctx := context.Background()
	s, _ := newFlaky(&Options{MaxAthletes: 32})
	v := features.NewVector()
	for i := range 500 {
		id := string(rune('A'+i%26)) + string(rune('a'+i/26))
		r := features.NewReading(id, "watch", t0)
		r.Set(features.HeartRate, 100)
		s.Ingest(ctx, r)
		if err := s.Vector(ctx, id, t0, v); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for i := range s.shards {
		n += len(s.shards[i].last)
		if l := len(s.shards[i].last); l > 32/numShards+1 {
			t.Errorf("shard %d keeps %d vectors, over %d", i, l, 32/numShards+1)
		}
	}
	if n == 0 {
		t.Error("nothing kept")
	}
}

func TestCallerCancellationIsNotCovered(t *testing.T) {
	s, inner := newFlaky(nil)
	last := session(t, s, "a1")
	v := features.NewVector()
	s.Vector(context.Background(), "a1", last, v)

	inner.setDown(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Vector(ctx, "a1", last, v); err == nil {
		t.Error("a cancelled lookup was answered from the kept vectors")
	}
}
