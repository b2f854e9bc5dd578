package drift

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func BenchmarkSketchAdd(b *testing.B) {
	p := testProfile(b, 3000, 3000)
	s := NewSketch(&p.Features[1], SketchOptions{})
	values := normals(rand.New(rand.NewPCG(1, 1)), 4096, 140, 10)
	b.ResetTimer()
	for i := range b.N {
		s.Add(values[i&4095])
	}
}

// benchMonitor returns a monitor of n numeric features, about the size of the
// feature schema, and rows to feed it.
func benchMonitor(b *testing.B, n int) (*Monitor, [][]float64) {
	b.Helper()
	rng := rand.New(rand.NewPCG(2, 2))
	cols := make([]Column, n)
	for i := range cols {
		cols[i] = Column{Name: fmt.Sprintf("f%d", i), Values: normals(rng, 5000, 0, 1)}
	}
	p, err := BuildProfile(cols, ProfileOptions{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewMonitor(p, MonitorOptions{})
	if err != nil {
		b.Fatal(err)
	}
	rows := make([][]float64, 256)
	for i := range rows {
		rows[i] = normals(rng, n, 0.1, 1)
	}
	return m, rows
}

func BenchmarkMonitorObserve128(b *testing.B) {
	m, rows := benchMonitor(b, 128)
	b.ResetTimer()
	for i := range b.N {
		at := t0.Add(time.Duration(i) * time.Second)
		if err := m.Observe(at, rows[i&255], nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMonitorObserveParallel(b *testing.B) {
	m, rows := benchMonitor(b, 128)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = m.Observe(t0, rows[i&255], nil)
			i++
		}
	})
}

func BenchmarkReport128(b *testing.B) {
	m, rows := benchMonitor(b, 128)
	for i := range 20000 {
		_ = m.Observe(t0.Add(time.Duration(i)*time.Second), rows[i&255], nil)
	}
	b.ResetTimer()
	for range b.N {
		_ = m.Report(Options{})
	}
}

func BenchmarkKSExact1000x2000(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	ref, live := normals(rng, 1000, 0, 1), normals(rng, 2000, 0.05, 1)
	b.ResetTimer()
	for range b.N {
		if _, err := KS(ref, live); err != nil {
			b.Fatal(err)
		}
	}
}
