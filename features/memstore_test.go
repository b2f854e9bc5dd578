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
