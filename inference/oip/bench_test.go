package oip_test

import (
	"context"
	"testing"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
)

// BenchmarkModelInfer measures ModelInfer in process, without a network, on one row
// for the linear model: the protocol's overhead around a tiny model.
func BenchmarkModelInfer(b *testing.B) {
	srv, _ := newTestServer(b)
	cases := []struct {
		name string
		req  *inferencepb.ModelInferRequest
	}{
		{"typed", linearRequest([]float32{3, 6, 4})},
		{"raw", toRaw(linearRequest([]float32{3, 6, 4}))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := srv.ModelInfer(ctx, c.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
