package features_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// A server ingests readings, takes an athlete's vector and gathers a model's inputs by
// name.
func ExampleStore() {
	ctx := context.Background()
	s := features.NewStore(nil)
	start := time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)
	for i := range 10 {
		r := features.NewReading("athlete-7", "watch", start.Add(time.Duration(i)*30*time.Second))
		r.Set(features.HeartRate, float64(120+i))
		s.Ingest(ctx, r)
	}

	v := features.NewVector()
	if err := s.Vector(ctx, "athlete-7", start.Add(5*time.Minute), v); err != nil {
		fmt.Println(err)
		return
	}
	mean, status, _ := v.Get("heart_rate_bpm_mean_5m")
	fmt.Printf("mean %.1f bpm, %v\n", mean, status)

	idx, err := features.CurrentSchema().Indices([]string{"heart_rate_bpm_mean_5m",
		"body_mass_kg"})
	if err != nil {
		fmt.Println(err)
		return
	}
	row := make([]float32, len(idx))
	missing := features.Gather(v, idx, row)
	fmt.Println(row[0], "missing inputs:", missing)
	// Output:
	// mean 125.0 bpm, present
	// 125 missing inputs: [1]
}
