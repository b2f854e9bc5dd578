package drift

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)

func flagProfile(t testing.TB) *Profile {
	t.Helper()
	p, err := BuildProfile([]Column{{Name: "x", Values: []float64{1, 2, 3, 4}},
		{Name: "c", Categories: []string{"a", "b", "a", "b"}}}, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMonitorBuckets(t *testing.T) {
	m, err := NewMonitor(flagProfile(t), MonitorOptions{MaxBuckets: 3})
	if err != nil {
		t.Fatal(err)
	}
	row := []float64{2, math.NaN()}
	cats := []string{"", "a"}
	// Hours 9, 11, 10, 9 (out of order), then 12 pushes hour 9 out; then a row at 9
	// is too old for any bucket kept.
	for _, h := range []int{0, 2, 1, 0, 3, 0} {
		if err := m.Observe(t0.Add(time.Duration(h)*time.Hour+time.Minute), row, cats); err != nil {
			t.Fatal(err)
		}
	}
	total, buckets, late := m.snapshot()
	if len(buckets) != 3 || !buckets[0].start.Equal(t0.Add(time.Hour)) ||
		!buckets[2].start.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("buckets %v", buckets)
	}
	// Late: the evicted hour-9 bucket's two rows and the row that came after it.
	if late != 3 || total[0].count != 6 || total[1].count != 6 {
		t.Errorf("late %d, totals %d and %d; want 3, 6, 6", late, total[0].count, total[1].count)
	}
	for _, b := range buckets {
		if b.rows != 1 || b.sketches[0].count != 1 || len(b.sketches[0].reservoir) != 0 {
			t.Errorf("bucket %v: %d rows, %d values, reservoir %v", b.start, b.rows,
				b.sketches[0].count, b.sketches[0].reservoir)
		}
	}
}

func TestMonitorObserveMismatch(t *testing.T) {
	m, err := NewMonitor(flagProfile(t), MonitorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Observe(t0, []float64{1}, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("short row: err = %v, want ErrMismatch", err)
	}
	if err := m.Observe(t0, []float64{1, 2}, []string{"a"}); !errors.Is(err, ErrMismatch) {
		t.Errorf("short categories: err = %v, want ErrMismatch", err)
	}
}

func TestMonitorMergeAndRestore(t *testing.T) {
	p := flagProfile(t)
	a, _ := NewMonitor(p, MonitorOptions{})
	b, _ := NewMonitor(p, MonitorOptions{Sketch: SketchOptions{Seed: 5}})
	for i := range 50 {
		at := t0.Add(time.Duration(i) * 10 * time.Minute)
		_ = a.Observe(at, []float64{float64(i % 4), 0}, []string{"", "a"})
		_ = b.Observe(at, []float64{float64(i%4) + 1, 0}, []string{"", "b"})
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	total, buckets, _ := a.snapshot()
	if total[0].count != 100 || total[1].count != 100 || len(buckets) != 9 {
		t.Errorf("after merge: counts %d %d, %d buckets", total[0].count, total[1].count,
			len(buckets))
	}

	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	r, err := RestoreMonitor(p, data, MonitorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(r)
	if string(again) != string(data) {
		t.Error("monitor changed in a JSON round trip")
	}
	_, err = RestoreMonitor(p, data, MonitorOptions{BucketWidth: time.Minute})
	if !errors.Is(err, ErrMismatch) {
		t.Errorf("other bucket width: err = %v, want ErrMismatch", err)
	}
	other := testProfile(t, 40, 40)
	if _, err := RestoreMonitor(other, data, MonitorOptions{}); !errors.Is(err, ErrMismatch) {
		t.Errorf("other profile: err = %v, want ErrMismatch", err)
	}
}
