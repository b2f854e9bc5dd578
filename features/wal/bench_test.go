package wal

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// Goal: group commit multiplies durable ingest by the number of concurrent
// clients, up to the batch bound: at least 50,000 readings/s from 512 clients on
// one SSD, where fsyncing each reading alone manages one reading per fsync.

func BenchmarkDurableIngest(b *testing.B) {
	cases := []struct {
		name    string
		delay   time.Duration
		clients int
	}{
		{"fsync each/clients=64", 0, 64},
		{"group commit 2ms/clients=64", 2 * time.Millisecond, 64},
		{"group commit 2ms/clients=512", 2 * time.Millisecond, 512},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			o := quiet()
			o.MaxBatchDelay = c.delay
			d := openT(b, b.TempDir(), o)
			var athletes atomic.Int64
			b.SetParallelism(max(1, c.clients/testingProcs()))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := fmt.Sprintf("athlete-%d", athletes.Add(1))
				ctx := context.Background()
				for i := 0; pb.Next(); i++ {
					r := hr(id, i, float64(100+i%60))
					if _, err := d.Ingest(ctx, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

func BenchmarkDurableIngestBatch(b *testing.B) {
	d := openT(b, b.TempDir(), quiet())
	batch := make([]features.Reading, 100)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		for k := range batch {
			batch[k] = hr(fmt.Sprintf("athlete-%d", k), i, 120)
		}
		if _, err := d.IngestBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "readings/s")
}

// testingProcs is GOMAXPROCS, by which RunParallel multiplies its parallelism.
func testingProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkSnapshot measures the pause a snapshot imposes on writers: the store
// of ten thousand athletes, each with an hour of 30-second readings, serialised.
func BenchmarkSnapshot(b *testing.B) {
	const athletes = 10_000
	d := openT(b, b.TempDir(), quiet())
	ctx := context.Background()
	rs := make([]features.Reading, 124)
	for a := range athletes {
		id := fmt.Sprintf("athlete-%05d", a)
		for i := range rs {
			rs[i] = hr(id, 30*i, float64(100+i%50))
			rs[i].Set(features.SkinTemp, 33)
		}
		d.store.IngestBatch(ctx, rs) // straight into memory: only the snapshot is timed
	}
	var pause time.Duration
	for b.Loop() {
		// The part writers wait for: serialising into the page cache.
		f, err := os.CreateTemp(b.TempDir(), "pause")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := writeSnapshot(f, position{segment: 1}, d.store); err != nil {
			b.Fatal(err)
		}
		pause += time.Since(start)
		f.Close()

		if err := d.Snapshot(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(pause.Milliseconds())/float64(b.N), "pause-ms")
}
