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
