package features_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/storetest"
)

func TestStoreConformance(t *testing.T) {
	cases := []struct {
		name string
		opts *features.Options
	}{
		{"defaults", nil},
		{"one shard", &features.Options{Shards: 1, Window: features.DefaultWindowOptions()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) features.OnlineStore {
				return features.NewStore(c.opts)
			})
		})
	}
}

func TestStoreQuarantineOverflow(t *testing.T) {
	ctx := context.Background()
	s := features.NewStore(&features.Options{QuarantineCap: 2})
	at := time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		r := features.NewReading(fmt.Sprintf("a%d", i), "watch", at)
		r.Set(features.HeartRate, 999)
		s.Ingest(ctx, r)
	}

	q, err := s.Quarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var named, overflow uint64
	for _, e := range q {
		if e.Overflow {
			overflow += e.Count
			if e.AthleteID != "" || e.Source != "" || e.Field != "heart_rate_bpm" {
				t.Errorf("overflow entry names %q/%q/%q", e.AthleteID, e.Source, e.Field)
			}
		} else {
			named += e.Count
		}
	}
	if named != 2 || overflow != 3 {
		t.Errorf("named %d, overflow %d; want 2 and 3, nothing dropped", named, overflow)
	}
}

func TestStoreWindowFull(t *testing.T) {
	ctx := context.Background()
	opts := features.DefaultOptions()
	opts.Window.MaxReadings = 3
	s := features.NewStore(&opts)
	at := time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)
	for i := range 4 {
		r := features.NewReading("a1", "watch", at.Add(time.Duration(i)*time.Second))
		r.Set(features.HeartRate, 100)
		res, err := s.Ingest(ctx, r)
		if i < 3 && (res != features.Applied || err != nil) {
			t.Fatalf("reading %d: %v, %v", i, res, err)
		}
		if i == 3 && (res != features.Full || !errors.Is(err, features.ErrWindowFull)) {
			t.Errorf("fourth reading: %v, %v; want full", res, err)
		}
	}
}

func TestStoreLatenessConfigurable(t *testing.T) {
	newest := time.Date(2025, 7, 14, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		lateness time.Duration
		back     time.Duration // behind the newest reading
		want     features.AddResult
	}{
		{"default, within", features.DefaultLateness, 2 * time.Minute, features.Applied},
		{"default, beyond", features.DefaultLateness, 3 * time.Minute, features.Late},
		{"five minutes, within", 5 * time.Minute, 4 * time.Minute, features.Applied},
		{"five minutes, beyond", 5 * time.Minute, 6 * time.Minute, features.Late},
		{"zero allows no disorder", 0, time.Millisecond, features.Late},
		{"negative counts as zero", -time.Minute, time.Millisecond, features.Late},
		{"bounded by MaxLateness", 3 * time.Hour, features.MaxLateness + time.Minute,
			features.Late},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := features.DefaultOptions()
			o.Window.Lateness = c.lateness
			s := features.NewStore(&o)
			ctx := context.Background()
			r := features.NewReading("a1", "watch", newest)
			r.Set(features.HeartRate, 120)
			if _, err := s.Ingest(ctx, r); err != nil {
				t.Fatal(err)
			}
			r.Time = newest.Add(-c.back)
			if got, err := s.Ingest(ctx, r); got != c.want || err != nil {
				t.Fatalf("Ingest %v behind: %v, %v; want %v", c.back, got, err, c.want)
			}
			if cnt, _ := s.Counts(ctx); (cnt.Late == 1) != (c.want == features.Late) {
				t.Errorf("counts %+v", cnt)
			}
		})
	}
}

// TestStoreRefusesReadingsFromTheFuture checks that one reading stamped far ahead of
// the clock is quarantined instead of freezing the athlete's window, where every
// real reading after it would count as late.
func TestStoreRefusesReadingsFromTheFuture(t *testing.T) {
	ctx := context.Background()
	s := features.NewStore(nil)
	now := time.Now().Truncate(time.Second)
	add := func(at time.Time) features.AddResult {
		t.Helper()
		r := features.NewReading("g2", "watch", at)
		r.Set(features.HeartRate, 120)
		res, err := s.Ingest(ctx, r)
		if err != nil && res != features.Rejected {
			t.Fatalf("ingest at %v: %v", at, err)
		}
		return res
	}
	if res := add(now.Add(-time.Minute)); res != features.Applied {
		t.Fatalf("a reading a minute old: %v, want applied", res)
	}
	if res := add(now.Add(time.Minute)); res != features.Applied {
		t.Errorf("a clock a minute fast: %v, want applied (within MaxAhead)", res)
	}
	if res := add(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)); res != features.Rejected {
		t.Fatalf("a reading dated 2099: %v, want rejected", res)
	}
	if res := add(now.Add(90 * time.Second)); res != features.Applied {
		t.Errorf("the next real reading: %v, want applied, not late", res)
	}
	q, err := s.Quarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || q[0].Field != "time" || q[0].Count != 1 {
		t.Errorf("quarantine %+v, want one entry for the field time", q)
	}
}
