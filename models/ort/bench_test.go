package ort_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/models/ort"
)

// benchFeatures is about the width of a sweat-rate feature vector.
const benchFeatures = 24

func benchModels(b *testing.B) map[string][]byte {
	rng := rand.New(rand.NewPCG(11, 11))
	lin := newLinear(b, rng, benchFeatures, columns)

	layer := func(in, out int) onnxgraph.Layer {
		return onnxgraph.Layer{Weights: randoms(rng, in*out, 0.2), Bias: randoms(rng, out, 0.1)}
	}
	mb, err := onnxgraph.MLP(onnxgraph.MLPSpec{
		Name: "mlp", Mean: lin.spec.Mean, Scale: lin.spec.Scale,
		Hidden:  []onnxgraph.Layer{layer(benchFeatures, 32), layer(32, 16)},
		Final:   layer(16, len(columns)),
		Outputs: columns,
	})
	if err != nil {
		b.Fatal(err)
	}
	mlp, err := mb.Marshal()
	if err != nil {
		b.Fatal(err)
	}

	// wide is compute-bound, like the network make bench's batching figure runs: one
	// row reads every weight once, 64 rows reuse each weight 64 times.
	const width = 2048
	small := func(in, out int) onnxgraph.Layer {
		return onnxgraph.Layer{Weights: randoms(rng, in*out, 0.02), Bias: randoms(rng, out, 0.1)}
	}
	wb, err := onnxgraph.MLP(onnxgraph.MLPSpec{
		Name:    "wide",
		Hidden:  []onnxgraph.Layer{small(benchFeatures, width), small(width, width)},
		Final:   small(width, len(columns)),
		Outputs: columns,
	})
	if err != nil {
		b.Fatal(err)
	}
	wide, err := wb.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return map[string][]byte{"linear": lin.model, "mlp": mlp, "wide": wide}
}

// BenchmarkRun measures one call at batch 1 and batch 64 through the general Run and
// the RunFloat32 fast path; ns/row is what one row costs at that batch size.
func BenchmarkRun(b *testing.B) {
	ctx := context.Background()
	models := benchModels(b)
	for _, name := range []string{"linear", "mlp", "wide"} {
		model := models[name]
		for _, batch := range []int{1, 64} {
			s := newSession(b, model, ort.Options{})
			x := randoms(rand.New(rand.NewPCG(12, 12)), batch*benchFeatures, 50)
			in := []ort.Tensor{{Shape: []int64{int64(batch), benchFeatures}, Data: x}}

			b.Run(fmt.Sprintf("%s/Run/batch=%d", name, batch), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Run(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
				perRow(b, batch)
			})
			b.Run(fmt.Sprintf("%s/RunFloat32/batch=%d", name, batch), func(b *testing.B) {
				out := make([][]float32, len(columns))
				b.ReportAllocs()
				for b.Loop() {
					if err := s.RunFloat32(ctx, x, out); err != nil {
						b.Fatal(err)
					}
				}
				perRow(b, batch)
			})
		}
	}
}

// perRow reports what one row cost, for runs of rows rows each.
func perRow(b *testing.B, rows int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
}

// BenchmarkRunFloat32Parallel measures throughput when every core runs requests on
// one shared session, as the server does.
func BenchmarkRunFloat32Parallel(b *testing.B) {
	s := newSession(b, benchModels(b)["linear"], ort.Options{})
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				x := randoms(rand.New(rand.NewPCG(13, 13)), batch*benchFeatures, 50)
				out := make([][]float32, len(columns))
				for pb.Next() {
					if err := s.RunFloat32(context.Background(), x, out); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
