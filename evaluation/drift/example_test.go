package drift_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hydrocast/hydrocast/evaluation/drift"
)

// A training-time profile, a live monitor fed with heart rates 12 bpm higher, and the
// report's verdict.
func ExampleMonitor() {
	rng := rand.New(rand.NewPCG(1, 2))
	train := make([]float64, 800)
	for i := range train {
		train[i] = 140 + 10*rng.NormFloat64()
	}
	profile, err := drift.BuildProfile([]drift.Column{{Name: "heart_rate_bpm", Values: train}},
		drift.ProfileOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}

	monitor, err := drift.NewMonitor(profile, drift.MonitorOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)
	for i := range 500 {
		hr := 152 + 10*rng.NormFloat64()
		_ = monitor.Observe(start.Add(time.Duration(i)*time.Minute), []float64{hr}, nil)
	}

	report := monitor.Report(drift.Options{})
	f := report.Features[0]
	fmt.Printf("%s: %s, drift %v, PSI level %s\n", f.Name, f.Test, f.Drift, f.PSILevel)
	fmt.Printf("dataset drift: %v, %d time buckets\n", report.DatasetDrift, len(report.Timeline))
	// Output:
	// heart_rate_bpm: ks, drift true, PSI level major
	// dataset drift: true, 9 time buckets
}
