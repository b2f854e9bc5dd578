package inference_test

import (
	"context"
	"testing"

	"github.com/hydrocast/hydrocast/features"
)

// BenchmarkAssess is one athlete's assessment in process, as the Assess RPC makes it
// after decoding the request: the feature vector from the in-memory store, then the
// three models and the assessment. It has no reference in make bench's table; it is
// there to profile what Assess adds to a call (go test -bench Assess -cpuprofile).
func BenchmarkAssess(b *testing.B) {
	set, store, asOf := workedOut(b)
	ctx := context.Background()
	v := features.NewVector()

	b.ReportAllocs()
	for b.Loop() {
		if err := store.Vector(ctx, "a1", asOf, v); err != nil {
			b.Fatal(err)
		}
		a, err := set.Assess(ctx, v)
		if err != nil {
			b.Fatal(err)
		}
		if a.SweatRateLPerH <= 0 {
			b.Fatalf("sweat rate %v", a.SweatRateLPerH)
		}
	}
}
