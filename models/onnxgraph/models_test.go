package onnxgraph_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/models/ort/orttest"
)

// tolerance is how far the runtime's float32 result may lie from the float64
// reference, relative to the reference's size when it exceeds 1.
const tolerance = 1e-5

func TestStandardizedLinearMatchesGo(t *testing.T) {
	orttest.Init(t)
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"sweat_rate_l_per_h", "lower", "upper"}

	cases := []struct {
		name    string
		k, m    int
		act     onnxgraph.Activation
		outputs []string
		bounded bool
	}{
		{"regression, one output per column", 6, 3, onnxgraph.ActivationNone, names, false},
		{"regression, one [N, m] output", 6, 3, onnxgraph.ActivationNone, []string{"y"}, false},
		{"sigmoid, one output per column", 4, 3, onnxgraph.ActivationSigmoid, names, false},
		{"sigmoid, one [N, m] output", 4, 2, onnxgraph.ActivationSigmoid, []string{"p"}, false},
		{"single column", 9, 1, onnxgraph.ActivationNone, []string{"core_temp_c"}, false},
		// Inputs are drawn within ±30: bounds of ±10 clip most of them.
		{"inputs bounded", 5, 2, onnxgraph.ActivationNone, []string{"y"}, true},
	}
	for _, c := range cases {
		spec := onnxgraph.LinearSpec{
			Name:       "linear",
			Mean:       randomSlice(rng, c.k, 20),
			Scale:      positiveSlice(rng, c.k),
			Weights:    randomSlice(rng, c.k*c.m, 1),
			Bias:       randomSlice(rng, c.m, 1),
			Activation: c.act,
			Outputs:    c.outputs,
		}
		if c.bounded {
			spec.Lower, spec.Upper = constant(c.k, -10), constant(c.k, 10)
		}
		b, err := onnxgraph.StandardizedLinear(spec)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ref := func(x []float64) []float64 { return linearRef(spec, x) }
		for _, batch := range []int{1, 7} {
			t.Run(fmt.Sprintf("%s/batch %d", c.name, batch), func(t *testing.T) {
				compareWithRuntime(t, b, c.k, c.m, batch, ref, rng)
			})
		}
	}
}

func TestMLPMatchesGo(t *testing.T) {
	orttest.Init(t)
	rng := rand.New(rand.NewPCG(3, 4))

	cases := []struct {
		name        string
		widths      []int // k, hidden widths..., m
		standardize bool
		act         onnxgraph.Activation
		outputs     []string
	}{
		{"one hidden layer", []int{5, 8, 2}, true, onnxgraph.ActivationNone,
			[]string{"core_temp_c", "core_temp_sd_c"}},
		{"two hidden layers", []int{5, 16, 8, 3}, true, onnxgraph.ActivationNone,
			[]string{"y"}},
		{"unstandardised, sigmoid", []int{4, 6, 1}, false, onnxgraph.ActivationSigmoid,
			[]string{"anomaly_probability"}},
		{"two hidden layers, sigmoid per column", []int{3, 4, 4, 2}, true,
			onnxgraph.ActivationSigmoid, []string{"a", "b"}},
	}
	for _, c := range cases {
		spec := randomMLP(rng, c.widths, c.standardize)
		spec.Activation, spec.Outputs = c.act, c.outputs
		b, err := onnxgraph.MLP(spec)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		k, m := c.widths[0], c.widths[len(c.widths)-1]
		ref := func(x []float64) []float64 { return mlpRef(spec, x) }
		for _, batch := range []int{1, 7} {
			t.Run(fmt.Sprintf("%s/batch %d", c.name, batch), func(t *testing.T) {
				compareWithRuntime(t, b, k, m, batch, ref, rng)
			})
		}
	}
}

// compareWithRuntime runs the built model on random rows through Run and RunFloat32
// and compares every value with ref, which maps one row to its m results.
func compareWithRuntime(t *testing.T, b *onnxgraph.Builder, k, m, batch int,
	ref func([]float64) []float64, rng *rand.Rand) {
	t.Helper()
	model, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(model, ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	x := randomSlice(rng, batch*k, 30)
	want := make([][]float64, batch)
	for r := range batch {
		want[r] = ref(float64s(x[r*k : (r+1)*k]))
	}

	res, err := s.Run(context.Background(), []ort.Tensor{{
		Shape: []int64{int64(batch), int64(k)}, Data: x}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkColumns(t, "Run", res, want, m)

	fast := make([][]float32, len(res))
	if err := s.RunFloat32(context.Background(), x, fast); err != nil {
		t.Fatalf("RunFloat32: %v", err)
	}
	for i := range fast {
		res[i].Data = fast[i]
	}
	checkColumns(t, "RunFloat32", res, want, m)
}

// checkColumns compares outputs that are either one [N, m] tensor or m [N, 1] ones.
func checkColumns(t *testing.T, how string, res []ort.Tensor, want [][]float64, m int) {
	t.Helper()
	if len(res) != 1 && len(res) != m {
		t.Fatalf("%s: %d outputs, want 1 or %d", how, len(res), m)
	}
	for r, row := range want {
		for j, w := range row {
			out, idx := 0, r*m+j
			if len(res) == m {
				out, idx = j, r
			}
			got := float64(res[out].Data.([]float32)[idx])
			if math.Abs(got-w) > tolerance*math.Max(1, math.Abs(w)) {
				t.Errorf("%s: row %d column %d = %.7g, Go computes %.7g", how, r, j, got, w)
			}
		}
	}
}

func linearRef(spec onnxgraph.LinearSpec, x []float64) []float64 {
	z := standardized(spec.Mean, spec.Scale, clipped(spec.Lower, spec.Upper, x))
	return activate(spec.Activation, dense(spec.Weights, spec.Bias, z))
}

func mlpRef(spec onnxgraph.MLPSpec, x []float64) []float64 {
	z := clipped(spec.Lower, spec.Upper, x)
	if spec.Mean != nil {
		z = standardized(spec.Mean, spec.Scale, z)
	}
	for _, l := range spec.Hidden {
		z = dense(l.Weights, l.Bias, z)
		for i := range z {
			z[i] = math.Max(0, z[i])
		}
	}
	return activate(spec.Activation, dense(spec.Final.Weights, spec.Final.Bias, z))
}

func standardized(mean, scale []float32, x []float64) []float64 {
	z := make([]float64, len(x))
	for i := range x {
		z[i] = (x[i] - float64(mean[i])) / float64(scale[i])
	}
	return z
}

// dense computes x · w + b for a row-major w of len(x) rows.
func dense(w, b []float32, x []float64) []float64 {
	out := make([]float64, len(b))
	for j := range out {
		out[j] = float64(b[j])
		for i := range x {
			out[j] += x[i] * float64(w[i*len(b)+j])
		}
	}
	return out
}

func activate(act onnxgraph.Activation, y []float64) []float64 {
	if act == onnxgraph.ActivationSigmoid {
		for i := range y {
			y[i] = 1 / (1 + math.Exp(-y[i]))
		}
	}
	return y
}

func randomMLP(rng *rand.Rand, widths []int, standardize bool) onnxgraph.MLPSpec {
	k := widths[0]
	spec := onnxgraph.MLPSpec{Name: "mlp"}
	if standardize {
		spec.Mean, spec.Scale = randomSlice(rng, k, 20), positiveSlice(rng, k)
	}
	for i := 1; i < len(widths); i++ {
		in, out := widths[i-1], widths[i]
		// Weights of about 1/√in keep every layer's values near 1, where float32
		// rounding stays far below the tolerance.
		l := onnxgraph.Layer{
			Weights: randomSlice(rng, in*out, 1/math.Sqrt(float64(in))),
			Bias:    randomSlice(rng, out, 0.5),
		}
		if i == len(widths)-1 {
			spec.Final = l
		} else {
			spec.Hidden = append(spec.Hidden, l)
		}
	}
	return spec
}

// randomSlice returns n values spread evenly over ±size.
func randomSlice(rng *rand.Rand, n int, size float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*rng.Float64() - 1) * size)
	}
	return v
}

// positiveSlice returns n scales between 0.5 and 10.
func positiveSlice(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(0.5 + 9.5*rng.Float64())
	}
	return v
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// clipped bounds x to [lower, upper] column by column; nil bounds leave it as it is.
func clipped(lower, upper []float32, x []float64) []float64 {
	if lower == nil {
		return x
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Min(float64(upper[i]), math.Max(float64(lower[i]), v))
	}
	return out
}

func constant(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}
