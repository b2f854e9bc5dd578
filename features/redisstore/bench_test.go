package redisstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// Goal: one athlete's vector within 1 ms at the 99th percentile on Redis, with an
// hour of 30-second readings of every signal in the window.

// fullReading returns a reading of every windowed signal, i steps of 30 s after t0.
func fullReading(athlete string, i int) features.Reading {
	r := features.NewReading(athlete, "watch", t0.Add(time.Duration(i)*30*time.Second))
	r.Set(features.HeartRate, float64(120+i%40))
	r.Set(features.SkinTemp, 33.5)
	r.Set(features.AmbientTemp, 28)
	r.Set(features.Humidity, 55)
	r.Set(features.Speed, 3+float64(i%5)/10)
	r.Set(features.Power, 250)
	r.Set(features.Cadence, 170)
	return r
}

func BenchmarkVector(b *testing.B) {
	rdb := redisClient(b)
	s := newTestStore(b, rdb, nil)
	ctx := context.Background()
	batch := make([]features.Reading, 124) // 62 minutes
	for i := range batch {
		batch[i] = fullReading("a1", i)
	}
	if _, err := s.IngestBatch(ctx, batch); err != nil {
		b.Fatal(err)
	}

	asOf := batch[len(batch)-1].Time.Add(10 * time.Second)
	v := features.NewVector()
	lat := make([]time.Duration, 0, 1<<20)
	for b.Loop() {
		start := time.Now()
		if err := s.Vector(ctx, "a1", asOf, v); err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkIngest(b *testing.B) {
	rdb := redisClient(b)
	s := newTestStore(b, rdb, nil)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Ingest(ctx, fullReading("a1", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

func BenchmarkIngestBatch(b *testing.B) {
	const athletes = 100
	rdb := redisClient(b)
	s := newTestStore(b, rdb, nil)
	ctx := context.Background()
	batch := make([]features.Reading, athletes)
	for i := 0; b.Loop(); i++ {
		for a := range batch {
			batch[a] = fullReading(fmt.Sprintf("athlete-%d", a), i)
		}
		if _, err := s.IngestBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*athletes)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkDecodeVector is the share of a lookup spent in this process: decoding
// the window's value and computing the vector, without the round trip.
func BenchmarkDecodeVector(b *testing.B) {
	w := features.NewAthleteWindow("a1", features.DefaultWindowOptions())
	for i := range 124 {
		w.Add(fullReading("a1", i))
	}
	value, _ := w.AppendBinary(make([]byte, tokenSize))
	asOf := w.Newest().Add(10 * time.Second)
	scratch := features.NewAthleteWindow("", features.DefaultWindowOptions())
	v := features.NewVector()
	for b.Loop() {
		if err := decodeValue(value, scratch); err != nil {
			b.Fatal(err)
		}
		scratch.Vector(asOf, v)
	}
	b.ReportMetric(float64(len(value)), "value-bytes")
}
