package simulate

import (
	"context"
	"os"
	"testing"
)

// BenchmarkSimulateSessions measures generating 100 athlete-sessions in memory: 25
// athletes with 4 sessions each, on one goroutine.
func BenchmarkSimulateSessions(b *testing.B) {
	o := DefaultOptions()
	o.Athletes = 25
	for b.Loop() {
		simulateAll(b, o)
	}
}

// BenchmarkRun measures Run end to end for 100 athlete-sessions, Parquet and FIT
// files included.
func BenchmarkRun(b *testing.B) {
	o := DefaultOptions()
	o.Athletes = 25
	for b.Loop() {
		o.Out = b.TempDir()
		if _, err := Run(context.Background(), o, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(o.Out)
		b.StartTimer()
	}
}
