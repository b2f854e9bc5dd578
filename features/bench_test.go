package features

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// Goals: ingest at least 1,000,000 readings/s on one core; a vector in at most 20 µs
// at the 99th percentile; at most 8 KiB per athlete holding an hour of 30-second
// readings.

func BenchmarkWindowAdd(b *testing.B) {
	w := newTestWindow()
	r := fullReading(t0, 0)
	for i := 0; b.Loop(); i++ {
		r.Time = t0.Add(time.Duration(i) * 30 * time.Second)
		r.Values[HeartRate] = float64(100 + i%60)
		w.Add(r)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

func BenchmarkStoreIngest(b *testing.B) {
	const athletes = 1000
	ctx := context.Background()
	s := NewStore(nil)
	rs := make([]Reading, athletes)
	for a := range rs {
		rs[a] = fullReading(t0, a)
		rs[a].AthleteID = fmt.Sprintf("athlete-%04d", a)
	}
	for i := 0; b.Loop(); i++ {
		r := &rs[i%athletes]
		r.Time = t0.Add(time.Duration(i/athletes) * 30 * time.Second)
		s.Ingest(ctx, *r)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

func BenchmarkVector(b *testing.B) {
	w := newTestWindow()
	for i := range 124 {
		w.Add(fullReading(t0.Add(time.Duration(i)*30*time.Second), i))
	}
	asOf := w.Newest().Add(10 * time.Second)
	v := NewVector()
	lat := make([]time.Duration, 0, 1<<20)
	for b.Loop() {
		start := time.Now()
		w.Vector(asOf, v)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkStoreVectors(b *testing.B) {
	const athletes = 100
	ctx := context.Background()
	s := NewStore(nil)
	ids := make([]string, athletes)
	for a := range ids {
		ids[a] = fmt.Sprintf("athlete-%04d", a)
		for i := range 124 {
			r := fullReading(t0.Add(time.Duration(i)*30*time.Second), i)
			r.AthleteID = ids[a]
			s.Ingest(ctx, r)
		}
	}
	asOf := t0.Add(62 * time.Minute)
	for b.Loop() {
		rec, err := s.Vectors(ctx, ids, asOf)
		if err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	b.ReportMetric(float64(b.N*athletes)/b.Elapsed().Seconds(), "vectors/s")
}

func BenchmarkMemoryPerAthlete(b *testing.B) {
	fill := func() *AthleteWindow {
		w := newTestWindow()
		for i := range 124 {
			w.Add(fullReading(t0.Add(time.Duration(i)*30*time.Second), i))
		}
		return w
	}
	for b.Loop() {
		fill()
	}
	b.ReportMetric(float64(measureHeapPerWindow(1000, fill)), "bytes/athlete")
}

// BenchmarkCopyReadings is the same-run reference of BenchmarkStoreIngest: the same
// loop over the same readings, copying each into a slice instead of a store, so that
// `make bench` can tell a slow machine from a slow store.
func BenchmarkCopyReadings(b *testing.B) {
	const athletes = 1000
	rs := make([]Reading, athletes)
	for a := range rs {
		rs[a] = fullReading(t0, a)
		rs[a].AthleteID = fmt.Sprintf("athlete-%04d", a)
	}
	sink := make([]Reading, 4096)
	for i := 0; b.Loop(); i++ {
		r := &rs[i%athletes]
		r.Time = t0.Add(time.Duration(i/athletes) * 30 * time.Second)
		sink[i%len(sink)] = *r
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkStoreVector measures the online lookup of one athlete's vector among a
// thousand, each holding an hour of 30-second readings: the goal is at most 20 µs at
// the 99th percentile.
func BenchmarkStoreVector(b *testing.B) {
	const athletes = 1000
	ctx := context.Background()
	s := NewStore(nil)
	ids := make([]string, athletes)
	for a := range ids {
		ids[a] = fmt.Sprintf("athlete-%04d", a)
		for i := range 124 {
			r := fullReading(t0.Add(time.Duration(i)*30*time.Second), i)
			r.AthleteID = ids[a]
			s.Ingest(ctx, r)
		}
	}
	asOf := t0.Add(62 * time.Minute)
	v := NewVector()
	lat := make([]time.Duration, 0, 1<<20)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if err := s.Vector(ctx, ids[i%athletes], asOf, v); err != nil {
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
