package inference_test

import (
	"context"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// BenchmarkAssess is one athlete's assessment in process, as the Assess RPC makes it
// after decoding the request: the feature vector from the in-memory store, then the
// three models and the assessment. It has no reference in make bench's table; it is
// there to profile what Assess adds to a call (go test -bench Assess -cpuprofile).
func BenchmarkAssess(b *testing.B) {
	reg := openRegistry(b)
	ms := testModels()
	publishAll(b, reg, ms)
	set := loadSet(b, reg)
	defer set.Close()
	store := features.NewStore(nil)
	workout(b, store, "a1")
	asOf := start.Add(20 * time.Minute)
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
