package training

import (
	"runtime/metrics"
	"testing"

	"github.com/hydrocast/hydrocast/models"
)

// BenchmarkStreamSweat10M trains the sweat-rate family, streamed, on ten million
// generated training-set rows of 20,000 athletes: the first pass and the three
// passes of the fit, once a round. It reports the rows a second of the whole run
// (each row read four times) and the largest live heap seen after a collection, which
// must not depend on the rows: held whole, ten million rows of 11 features are
// some 900 MB of matrices alone.
func BenchmarkStreamSweat10M(b *testing.B) {
	const rows = 10_000_000
	benchStream(b, rows, 20_000, DefaultMemoryRows)
}

func benchStream(b *testing.B, rows, athletes, memoryRows int) {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	watch := func() {
		metrics.Read(live)
		peak = max(peak, live[0].Value.Uint64())
	}
	for b.Loop() {
		src := &syntheticSource{rows: rows, athletes: athletes, batch: 16384, seed: 5}
		o := DefaultOptions().withDefaults()
		o.Source, o.MemoryRows = src, memoryRows
		o.Families = []string{models.SweatRate}
		first, err := firstPass(b.Context(), src, o.MemoryRows, func(int64) { watch() })
		if err != nil || first.whole {
			b.Fatalf("first pass: whole %v, error %v", first.whole, err)
		}
		var ids []string
		for a := range first.counts {
			ids = append(ids, a)
		}
		train, test := SplitAthletes(ids, o.TestShare, o.Seed)
		sf, err := streamFit(b.Context(), o, first, splitSets(train, test),
			func(Progress) { watch() })
		if err != nil {
			b.Fatal(err)
		}
		if sf[models.SweatRate].model == nil {
			b.Fatal("no model")
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(peak), "peak-live-B")
}

// BenchmarkStreamSweat1M is the same on a million rows of 2,000 athletes, with a
// tenth of the memory bound, for profiling.
func BenchmarkStreamSweat1M(b *testing.B) {
	benchStream(b, 1_000_000, 2000, DefaultMemoryRows/10)
}
