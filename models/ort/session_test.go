package ort_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/models/ort/orttest"
)

var columns = []string{"sweat_rate_l_per_h", "lower_l_per_h", "upper_l_per_h"}

// linear is a standardised linear model together with its Go computation.
type linear struct {
	spec  onnxgraph.LinearSpec
	model []byte
}

func newLinear(tb testing.TB, rng *rand.Rand, k int, outputs []string) linear {
	tb.Helper()
	m := len(columns)
	spec := onnxgraph.LinearSpec{
		Name:     "sweat",
		Mean:     randoms(rng, k, 50),
		Scale:    randoms(rng, k, 0.1),
		Weights:  randoms(rng, k*m, 1),
		Bias:     randoms(rng, m, 1),
		Outputs:  outputs,
		Metadata: map[string]string{"model": "sweat", "feature_schema": "7"},
	}
	for i := range spec.Scale {
		spec.Scale[i] += 1
	}
	b, err := onnxgraph.StandardizedLinear(spec)
	if err != nil {
		tb.Fatal(err)
	}
	model, err := b.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return linear{spec: spec, model: model}
}

// want returns the Go computation for row r of x, column j.
func (l linear) want(x []float32, r, j int) float64 {
	k, m := len(l.spec.Mean), len(l.spec.Bias)
	y := float64(l.spec.Bias[j])
	for i := range k {
		z := (float64(x[r*k+i]) - float64(l.spec.Mean[i])) / float64(l.spec.Scale[i])
		y += z * float64(l.spec.Weights[i*m+j])
	}
	return y
}

// check compares outputs laid out as m slices of N values with the Go computation.
func (l linear) check(t *testing.T, x []float32, out [][]float32) {
	t.Helper()
	k := len(l.spec.Mean)
	for j, col := range out {
		if len(col) != len(x)/k {
			t.Fatalf("output %d holds %d values for %d rows", j, len(col), len(x)/k)
		}
		for r, got := range col {
			if w := l.want(x, r, j); math.Abs(float64(got)-w) > 1e-5*math.Max(1, math.Abs(w)) {
				t.Errorf("row %d column %d = %.7g, want %.7g", r, j, got, w)
			}
		}
	}
}

func newSession(tb testing.TB, model []byte, opts ort.Options) *ort.Session {
	tb.Helper()
	orttest.Init(tb)
	s, err := ort.NewSession(model, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestSessionSignature(t *testing.T) {
	l := newLinear(t, rand.New(rand.NewPCG(1, 1)), 5, columns)
	s := newSession(t, l.model, ort.Options{})

	wantIn := []ort.TensorInfo{{Name: "features", Type: ort.Float32, Shape: []int64{-1, 5}}}
	if got := s.Inputs(); !infosEqual(got, wantIn) {
		t.Errorf("Inputs() = %v, want %v", got, wantIn)
	}
	var wantOut []ort.TensorInfo
	for _, name := range columns {
		wantOut = append(wantOut, ort.TensorInfo{Name: name, Type: ort.Float32,
			Shape: []int64{-1, 1}})
	}
	if got := s.Outputs(); !infosEqual(got, wantOut) {
		t.Errorf("Outputs() = %v, want %v", got, wantOut)
	}
	if got := s.Metadata(); got["model"] != "sweat" || got["feature_schema"] != "7" {
		t.Errorf("Metadata() = %v, want the model's metadata_props", got)
	}

	// What callers get must be theirs to change.
	s.Inputs()[0].Shape[1] = 99
	if s.Inputs()[0].Shape[1] != 5 {
		t.Error("changing the result of Inputs changed the session")
	}
}

func infosEqual(a, b []ort.TensorInfo) bool {
	return slices.EqualFunc(a, b, func(x, y ort.TensorInfo) bool {
		return x.Name == y.Name && x.Type == y.Type && slices.Equal(x.Shape, y.Shape)
	})
}

func TestRunElementTypes(t *testing.T) {
	cases := []struct {
		typ   ort.ElementType
		proto onnx.TensorProto_DataType
		data  any
	}{
		{ort.Float32, onnx.TensorProto_FLOAT, []float32{1.5, -2, 3e-8, 4, 5, 6}},
		{ort.Float64, onnx.TensorProto_DOUBLE, []float64{1.5, -2, 3e-300, 4, 5, 6}},
		{ort.Int32, onnx.TensorProto_INT32, []int32{1, -2, math.MaxInt32, 4, 5, 6}},
		{ort.Int64, onnx.TensorProto_INT64, []int64{1, -2, math.MaxInt64, 4, 5, 6}},
		{ort.Bool, onnx.TensorProto_BOOL, []bool{true, false, false, true, true, false}},
	}
	for _, c := range cases {
		t.Run(c.typ.String(), func(t *testing.T) {
			model, err := onnxgraph.NewBuilder("identity").
				TypedInput("x", c.proto, -1, 3).
				Node("Identity", []string{"x"}, []string{"y"}).
				TypedOutput("y", c.proto, -1, 3).
				Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s := newSession(t, model, ort.Options{})
			if got := s.Outputs()[0].Type; got != c.typ {
				t.Errorf("output type %v, want %v", got, c.typ)
			}

			in := ort.Tensor{Shape: []int64{2, 3}, Data: c.data}
			res, err := s.Run(context.Background(), []ort.Tensor{in})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 || !slices.Equal(res[0].Shape, in.Shape) ||
				fmt.Sprint(res[0].Data) != fmt.Sprint(c.data) || res[0].Type() != c.typ {
				t.Errorf("Run returned %v, want %v", res, in)
			}
		})
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	l := newLinear(t, rand.New(rand.NewPCG(2, 2)), 3, []string{"y"})
	s := newSession(t, l.model, ort.Options{})
	ctx := context.Background()

	cases := []struct {
		name   string
		inputs []ort.Tensor
		want   error
	}{
		{"no tensors", nil, ort.ErrBadInput},
		{"two tensors", []ort.Tensor{
			{Shape: []int64{1, 3}, Data: make([]float32, 3)},
			{Shape: []int64{1, 3}, Data: make([]float32, 3)},
		}, ort.ErrBadInput},
		{"float64 for float32", []ort.Tensor{{Shape: []int64{1, 3}, Data: make([]float64, 3)}},
			ort.ErrBadInput},
		{"rank 1", []ort.Tensor{{Shape: []int64{3}, Data: make([]float32, 3)}},
			ort.ErrBadInput},
		{"wrong width", []ort.Tensor{{Shape: []int64{1, 4}, Data: make([]float32, 4)}},
			ort.ErrBadInput},
		{"empty batch", []ort.Tensor{{Shape: []int64{0, 3}, Data: []float32{}}},
			ort.ErrBadInput},
		{"too few values", []ort.Tensor{{Shape: []int64{2, 3}, Data: make([]float32, 5)}},
			ort.ErrBadInput},
		{"too many values", []ort.Tensor{{Shape: []int64{2, 3}, Data: make([]float32, 7)}},
			ort.ErrBadInput},
		{"huge shape", []ort.Tensor{{Shape: []int64{math.MaxInt64 / 2, 3},
			Data: make([]float32, 6)}}, ort.ErrBadInput},
		{"strings", []ort.Tensor{{Shape: []int64{1, 3}, Data: []string{"a", "b", "c"}}},
			ort.ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Run(ctx, c.inputs); !errors.Is(err, c.want) {
				t.Fatalf("Run() = %v, want %v", err, c.want)
			}
		})
	}
}

func TestRunFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	cases := []struct {
		name    string
		outputs []string
		opts    ort.Options
	}{
		{"one output per column", columns, ort.Options{}},
		{"one [N, m] output", []string{"y"}, ort.Options{}},
		{"batches beyond the pool", columns, ort.Options{MaxPooledBatch: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLinear(t, rng, 4, c.outputs)
			s := newSession(t, l.model, c.opts)

			// Varying batches and fresh rows each time catch buffers that keep an
			// earlier call's shape or values.
			var out [][]float32
			for _, batch := range []int{1, 7, 1, 7, 64, 7} {
				x := randoms(rng, batch*4, 60)
				out = make([][]float32, len(c.outputs))
				if err := s.RunFloat32(context.Background(), x, out); err != nil {
					t.Fatalf("batch %d: %v", batch, err)
				}
				l.check(t, x, columnsOf(out, batch, len(columns)))
			}
		})
	}
}

// columnsOf turns one row-major [N, m] output into m columns; m outputs stay as they
// are.
func columnsOf(out [][]float32, n, m int) [][]float32 {
	if len(out) == m {
		return out
	}
	cols := make([][]float32, m)
	for j := range cols {
		for r := range n {
			cols[j] = append(cols[j], out[0][r*m+j])
		}
	}
	return cols
}

func TestRunFloat32OtherShapes(t *testing.T) {
	orttest.Init(t)
	weights := []float32{0.5, -1, 2}
	x := []float32{1, 2, 3, 4, 5, 6}
	want := []float32{1*0.5 - 2 + 6, 4*0.5 - 5 + 12}

	cases := []struct {
		name  string
		batch int64 // -1 for a dynamic batch
		out   []int64
	}{
		// An output [N] of one value a row takes the fast path.
		{"vector output", -1, []int64{-1}},
		// A fixed batch cannot take the fast path, which keys its buffers by batch.
		{"fixed batch", 2, []int64{2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			model, err := onnxgraph.NewBuilder("dot").
				Input("features", c.batch, 3).
				Initializer("w", []int64{3}, weights).
				Node("MatMul", []string{"features", "w"}, []string{"y"}).
				Output("y", c.out...).
				Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s := newSession(t, model, ort.Options{})

			out := make([][]float32, 1)
			for range 2 {
				if err := s.RunFloat32(context.Background(), x, out); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(out[0], want) {
					t.Errorf("RunFloat32 = %v, want %v", out[0], want)
				}
			}
		})
	}
}

func TestRunFloat32RejectsBadInput(t *testing.T) {
	l := newLinear(t, rand.New(rand.NewPCG(4, 4)), 3, columns)
	s := newSession(t, l.model, ort.Options{})

	cases := []struct {
		name string
		x    []float32
		out  [][]float32
		want error
	}{
		{"partial row", make([]float32, 4), make([][]float32, 3), ort.ErrBadInput},
		{"no rows", nil, make([][]float32, 3), ort.ErrBadInput},
		{"too few destinations", make([]float32, 3), make([][]float32, 1), ort.ErrBadInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.RunFloat32(context.Background(), c.x, c.out); !errors.Is(err, c.want) {
				t.Fatalf("RunFloat32() = %v, want %v", err, c.want)
			}
		})
	}

	t.Run("integer model", func(t *testing.T) {
		model, err := onnxgraph.NewBuilder("int").
			TypedInput("x", onnx.TensorProto_INT64, -1, 2).
			Node("Identity", []string{"x"}, []string{"y"}).
			TypedOutput("y", onnx.TensorProto_INT64, -1, 2).
			Marshal()
		if err != nil {
			t.Fatal(err)
		}
		s := newSession(t, model, ort.Options{})
		err = s.RunFloat32(context.Background(), make([]float32, 2), make([][]float32, 1))
		if !errors.Is(err, ort.ErrUnsupported) {
			t.Fatalf("RunFloat32() = %v, want %v", err, ort.ErrUnsupported)
		}
	})
}

func TestRunFloat32ReusesBuffers(t *testing.T) {
	l := newLinear(t, rand.New(rand.NewPCG(5, 5)), 8, columns)
	s := newSession(t, l.model, ort.Options{})
	ctx := context.Background()
	x := randoms(rand.New(rand.NewPCG(6, 6)), 64*8, 10)
	out := make([][]float32, len(columns))

	// The first call creates the batch's buffers and grows out; later ones reuse both.
	if err := s.RunFloat32(ctx, x, out); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := s.RunFloat32(ctx, x, out); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("RunFloat32 allocates %v times a call once warm, want 0", allocs)
	}
}

func TestConcurrentRuns(t *testing.T) {
	l := newLinear(t, rand.New(rand.NewPCG(7, 7)), 6, columns)
	s := newSession(t, l.model, ort.Options{})

	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 8))
			out := make([][]float32, len(columns))
			for i := range 40 {
				batch := 1 + rng.IntN(9)
				x := randoms(rng, batch*6, 60)
				if i%2 == 0 {
					if err := s.RunFloat32(context.Background(), x, out); err != nil {
						t.Error(err)
						return
					}
					l.check(t, x, out)
					continue
				}
				res, err := s.Run(context.Background(), []ort.Tensor{
					{Shape: []int64{int64(batch), 6}, Data: x}})
				if err != nil {
					t.Error(err)
					return
				}
				for j := range res {
					out[j] = res[j].Data.([]float32)
				}
				l.check(t, x, out)
			}
		})
	}
	wg.Wait()
}

func TestCancelledContext(t *testing.T) {
	l := newLinear(t, rand.New(rand.NewPCG(9, 9)), 2, columns)
	s := newSession(t, l.model, ort.Options{})
	x := []float32{1, 2}
	in := []ort.Tensor{{Shape: []int64{1, 2}, Data: x}}

	live, stop := context.WithCancel(context.Background())
	defer stop()
	if _, err := s.Run(live, in); err != nil {
		t.Fatalf("Run with a live cancellable context: %v", err)
	}

	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(done, in); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want %v", err, context.Canceled)
	}
	err := s.RunFloat32(done, x, make([][]float32, 3))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RunFloat32 after cancel = %v, want %v", err, context.Canceled)
	}
}

func TestClose(t *testing.T) {
	l := newLinear(t, rand.New(rand.NewPCG(10, 10)), 2, columns)
	orttest.Init(t)
	s, err := ort.NewSession(l.model, ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, 2}
	if err := s.RunFloat32(context.Background(), x, make([][]float32, 3)); err != nil {
		t.Fatal(err)
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	_, err = s.Run(context.Background(), []ort.Tensor{{Shape: []int64{1, 2}, Data: x}})
	if !errors.Is(err, ort.ErrClosed) {
		t.Errorf("Run after Close = %v, want %v", err, ort.ErrClosed)
	}
	err = s.RunFloat32(context.Background(), x, make([][]float32, 3))
	if !errors.Is(err, ort.ErrClosed) {
		t.Errorf("RunFloat32 after Close = %v, want %v", err, ort.ErrClosed)
	}
}

func TestNewSessionRejectsGarbage(t *testing.T) {
	orttest.Init(t)
	if _, err := ort.NewSession([]byte("not a model"), ort.Options{}); err == nil {
		t.Fatal("NewSession accepted bytes that are not a model")
	}
}

// randoms returns n values spread evenly over ±size.
func randoms(rng *rand.Rand, n int, size float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*rng.Float64() - 1) * size)
	}
	return v
}
