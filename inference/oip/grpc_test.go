package oip_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/inference/oip"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestModelInferLinear(t *testing.T) {
	srv, _ := newTestServer(t)
	client := dial(t, srv)
	x := []float32{3, 6, 4, 1, 2, 3, -1, 10, 2.5}
	want := linearRef(x)

	for _, raw := range []bool{false, true} {
		t.Run(map[bool]string{false: "typed", true: "raw"}[raw], func(t *testing.T) {
			req := linearRequest(x)
			if raw {
				req = toRaw(req)
			}
			resp, err := client.ModelInfer(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}

			if resp.ModelName != "linear" || resp.ModelVersion != "3" || resp.Id != "req-1" {
				t.Errorf("response names model %q version %q id %q, want linear 3 req-1",
					resp.ModelName, resp.ModelVersion, resp.Id)
			}
			if got := len(resp.RawOutputContents) > 0; got != raw {
				t.Errorf("raw outputs = %v, want %v", got, raw)
			}
			if len(resp.Outputs) != 2 {
				t.Fatalf("got %d outputs, want 2", len(resp.Outputs))
			}
			for i, out := range resp.Outputs {
				if out.Name != linearOutputs[i] || out.Datatype != "FP32" ||
					!slices.Equal(out.Shape, []int64{3, 1}) {
					t.Errorf("output %d is %s %s %v, want %s FP32 [3 1]", i, out.Name,
						out.Datatype, out.Shape, linearOutputs[i])
				}
				if got := outputData(t, resp, i); !slices.Equal(got.([]float32), want[i]) {
					t.Errorf("output %s = %v, want %v", out.Name, got, want[i])
				}
			}
		})
	}
}

// pairCase holds inputs for a pair model and the outputs it must give.
type pairCase struct {
	a, b, sum any
}

func pairCases() map[string]pairCase {
	return map[string]pairCase{
		"FP32": {[]float32{1.5, -2, 1e30, 0, 7, 0.25}, []float32{2, 2, 1e30, -0.5, 1, 0.5},
			[]float32{3.5, 0, 2e30, -0.5, 8, 0.75}},
		"FP64": {[]float64{1e-300, 2, 3, 4, 5, 6}, []float64{1e-300, -2, 0.5, 4, 5, 1e300},
			[]float64{2e-300, 0, 3.5, 8, 10, 1e300}},
		"INT32": {[]int32{math.MaxInt32 - 1, -5, 0, 1, 2, 3}, []int32{1, 5, 0, 1, 2, -3},
			[]int32{math.MaxInt32, 0, 0, 2, 4, 0}},
		"INT64": {[]int64{1 << 60, -5, 0, 1, 2, 3}, []int64{1 << 60, 5, 0, 1, 2, -3},
			[]int64{1 << 61, 0, 0, 2, 4, 0}},
		"BOOL": {[]bool{true, true, false, false, true, false},
			[]bool{true, false, true, false, false, false},
			[]bool{true, true, true, false, true, false}},
	}
}

func TestModelInferDatatypes(t *testing.T) {
	srv, _ := newTestServer(t)
	client := dial(t, srv)

	for dt, c := range pairCases() {
		for _, raw := range []bool{false, true} {
			name := dt + map[bool]string{false: "/typed", true: "/raw"}[raw]
			t.Run(name, func(t *testing.T) {
				req := &inferencepb.ModelInferRequest{
					ModelName: "pair_" + dt,
					Inputs: []*inTensor{
						input("b", []int64{2, 3}, c.b), input("a", []int64{2, 3}, c.a),
					},
				}
				if raw {
					req = toRaw(req)
				}
				resp, err := client.ModelInfer(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}

				want := map[string]any{"sum": c.sum, "first": c.a}
				for i, out := range resp.Outputs {
					if out.Datatype != dt || !slices.Equal(out.Shape, []int64{2, 3}) {
						t.Errorf("output %s is %s %v, want %s [2 3]", out.Name,
							out.Datatype, out.Shape, dt)
					}
					got := outputData(t, resp, i)
					if !equalData(got, want[out.Name]) {
						t.Errorf("output %s = %v, want %v", out.Name, got, want[out.Name])
					}
				}
			})
		}
	}
}

func equalData(a, b any) bool {
	switch x := a.(type) {
	case []float32:
		return slices.Equal(x, b.([]float32))
	case []float64:
		return slices.Equal(x, b.([]float64))
	case []int32:
		return slices.Equal(x, b.([]int32))
	case []int64:
		return slices.Equal(x, b.([]int64))
	case []bool:
		return slices.Equal(x, b.([]bool))
	}
	return false
}

// TestRawAndTypedAgree sends random rows, whose results are not exact, both ways and
// expects bit-identical answers.
func TestRawAndTypedAgree(t *testing.T) {
	srv, _ := newTestServer(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for batch := 1; batch <= testMaxBatch; batch++ {
		x := make([]float32, 3*batch)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 30)
		}
		typed, err := srv.ModelInfer(context.Background(), linearRequest(x))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := srv.ModelInfer(context.Background(), toRaw(linearRequest(x)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range typed.Outputs {
			a, b := outputData(t, typed, i), outputData(t, raw, i)
			if !equalData(a, b) {
				t.Errorf("batch %d output %d: typed %v, raw %v", batch, i, a, b)
			}
		}
	}
}

func TestModelInferOutputs(t *testing.T) {
	srv, _ := newTestServer(t)
	x := []float32{3, 6, 4}
	want := linearRef(x)

	cases := []struct {
		name  string
		asked []string
		want  []int // positions in linearOutputs
	}{
		{"none asked gives all in model order", nil, []int{0, 1}},
		{"one", []string{"core_temp_c"}, []int{1}},
		{"both in reverse order", []string{"core_temp_c", "sweat_rate_l_per_h"},
			[]int{1, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := linearRequest(x)
			for _, name := range c.asked {
				req.Outputs = append(req.Outputs,
					&outQuery{Name: name})
			}
			resp, err := srv.ModelInfer(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Outputs) != len(c.want) {
				t.Fatalf("got %d outputs, want %d", len(resp.Outputs), len(c.want))
			}
			for i, k := range c.want {
				got := outputData(t, resp, i).([]float32)
				if resp.Outputs[i].Name != linearOutputs[k] || !slices.Equal(got, want[k]) {
					t.Errorf("output %d is %s = %v, want %s = %v", i,
						resp.Outputs[i].Name, got, linearOutputs[k], want[k])
				}
			}
		})
	}
}

// features returns the linear model's input with the given shape and data.
func features(shape []int64, x []float32) *inTensor {
	return input("features", shape, x)
}

func TestModelInferRefusesInvalidRequests(t *testing.T) {
	srv, _ := newTestServer(t)
	client := dial(t, srv)
	row := []float32{1, 2, 3}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	pair := func(a, b *inTensor) *inferencepb.ModelInferRequest {
		return &inferencepb.ModelInferRequest{ModelName: "pair_INT64",
			Inputs: []*inTensor{a, b}}
	}
	ints := []int64{1, 2, 3}

	cases := []struct {
		name string
		req  func() *inferencepb.ModelInferRequest
		want []string // fragments the message must hold
	}{
		{"unknown input", func() *inferencepb.ModelInferRequest {
			r := linearRequest(row)
			r.Inputs = append(r.Inputs, input("extra", []int64{1}, []float32{1}))
			return r
		}, []string{`"extra"`, "not an input"}},
		{"duplicate input", func() *inferencepb.ModelInferRequest {
			return pair(input("a", []int64{1, 3}, ints), input("a", []int64{1, 3}, ints))
		}, []string{`"a"`, "more than once"}},
		{"missing input", func() *inferencepb.ModelInferRequest {
			r := pair(input("a", []int64{1, 3}, ints), nil)
			r.Inputs = r.Inputs[:1]
			return r
		}, []string{`"b"`, "missing"}},
		{"datatype mismatch", func() *inferencepb.ModelInferRequest {
			r := linearRequest(row)
			r.Inputs[0] = input("features", []int64{1, 3}, []float64{1, 2, 3})
			return r
		}, []string{`"features"`, `datatype "FP64"`, "takes FP32"}},
		{"unknown datatype", func() *inferencepb.ModelInferRequest {
			r := linearRequest(row)
			r.Inputs[0].Datatype = "FLOAT"
			return r
		}, []string{`"features"`, `datatype "FLOAT"`}},
		{"rank", func() *inferencepb.ModelInferRequest {
			return &inferencepb.ModelInferRequest{ModelName: "linear",
				Inputs: []*inTensor{
					features([]int64{3}, row)}}
		}, []string{`"features"`, "rank 1", "rank 2"}},
		{"dimension -1", func() *inferencepb.ModelInferRequest {
			return &inferencepb.ModelInferRequest{ModelName: "linear",
				Inputs: []*inTensor{
					features([]int64{-1, 3}, row)}}
		}, []string{`"features"`, "dimension 0 is -1"}},
		{"dimension 0", func() *inferencepb.ModelInferRequest {
			return &inferencepb.ModelInferRequest{ModelName: "linear",
				Inputs: []*inTensor{
					features([]int64{0, 3}, nil)}}
		}, []string{`"features"`, "dimension 0 is 0"}},
		{"negative dimension", func() *inferencepb.ModelInferRequest {
			return &inferencepb.ModelInferRequest{ModelName: "wide",
				Inputs: []*inTensor{
					input("x", []int64{1, -3, -1}, row)}}
		}, []string{`"x"`, "dimension 1 is -3"}},
		{"fixed dimension", func() *inferencepb.ModelInferRequest {
			return &inferencepb.ModelInferRequest{ModelName: "linear",
				Inputs: []*inTensor{
					features([]int64{1, 4}, []float32{1, 2, 3, 4})}}
		}, []string{`"features"`, "dimension 1 is 4", "takes 3"}},
		{"element count overflows int64", func() *inferencepb.ModelInferRequest {
			return &inferencepb.ModelInferRequest{ModelName: "wide",
				Inputs: []*inTensor{
					input("x", []int64{2, 1 << 31, 1 << 32}, row)}}
		}, []string{`"x"`, "too many elements"}},
		{"batch over the limit", func() *inferencepb.ModelInferRequest {
			return &inferencepb.ModelInferRequest{ModelName: "linear",
				Inputs: []*inTensor{
					features([]int64{testMaxBatch + 1, 3},
						make([]float32, 3*(testMaxBatch+1)))}}
		}, []string{`"features"`, "batch of 9", "limit of 8"}},
		{"too few values", func() *inferencepb.ModelInferRequest {
			return &inferencepb.ModelInferRequest{ModelName: "linear",
				Inputs: []*inTensor{
					features([]int64{2, 3}, row)}}
		}, []string{`"features"`, "3 values in fp32_contents", "needs 6"}},
		{"no contents", func() *inferencepb.ModelInferRequest {
			r := linearRequest(row)
			r.Inputs[0].Contents = nil
			return r
		}, []string{`"features"`, "0 values"}},
		{"contents in the wrong field", func() *inferencepb.ModelInferRequest {
			r := linearRequest(row)
			r.Inputs[0].Contents = &inferencepb.InferTensorContents{
				Fp64Contents: []float64{1, 2, 3}}
			return r
		}, []string{`"features"`, "values in fp64_contents", "takes fp32_contents"}},
		{"raw byte count", func() *inferencepb.ModelInferRequest {
			r := toRaw(linearRequest(row))
			r.RawInputContents[0] = r.RawInputContents[0][:11]
			return r
		}, []string{`"features"`, "11 raw bytes", "3 elements of 4 bytes"}},
		{"contents and raw", func() *inferencepb.ModelInferRequest {
			r := toRaw(linearRequest(row))
			r.Inputs[0].Contents = &inferencepb.InferTensorContents{Fp32Contents: row}
			return r
		}, []string{`"features"`, "raw_input_contents", "one or the other"}},
		{"raw for some inputs only", func() *inferencepb.ModelInferRequest {
			r := toRaw(pair(input("a", []int64{1, 3}, ints), input("b", []int64{1, 3}, ints)))
			r.RawInputContents = r.RawInputContents[:1]
			return r
		}, []string{"1 raw_input_contents for 2 inputs"}},
		{"raw BOOL other than 0 or 1", func() *inferencepb.ModelInferRequest {
			r := toRaw(&inferencepb.ModelInferRequest{ModelName: "pair_BOOL",
				Inputs: []*inTensor{
					input("a", []int64{1, 3}, []bool{true, false, true}),
					input("b", []int64{1, 3}, []bool{true, false, true})}})
			r.RawInputContents[1][2] = 2
			return r
		}, []string{`"b"`, "raw byte 2 is 2"}},
		{"NaN", func() *inferencepb.ModelInferRequest {
			return linearRequest([]float32{1, nan, 3})
		}, []string{`"features"`, "element 1 is NaN", "finite"}},
		{"raw infinity", func() *inferencepb.ModelInferRequest {
			return toRaw(linearRequest([]float32{1, 2, 3, 4, 5, inf}))
		}, []string{`"features"`, "element 5 is +Inf"}},
		{"unknown output", func() *inferencepb.ModelInferRequest {
			r := linearRequest(row)
			r.Outputs = []*outQuery{
				{Name: "sweat_rate"}}
			return r
		}, []string{`"sweat_rate"`, "not an output", "sweat_rate_l_per_h, core_temp_c"}},
		{"output asked twice", func() *inferencepb.ModelInferRequest {
			r := linearRequest(row)
			r.Outputs = []*outQuery{
				{Name: "core_temp_c"}, {Name: "core_temp_c"}}
			return r
		}, []string{`"core_temp_c"`, "more than once"}},
		{"message too large", func() *inferencepb.ModelInferRequest {
			return toRaw(linearRequest(make([]float32, testMaxBytes/4)))
		}, []string{"request too large", "limit is 65536"}},
		{"no model name", func() *inferencepb.ModelInferRequest {
			r := linearRequest(row)
			r.ModelName = ""
			return r
		}, []string{"no model name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := client.ModelInfer(context.Background(), c.req())
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", st.Code(), err)
			}
			for _, w := range c.want {
				if !strings.Contains(st.Message(), w) {
					t.Errorf("message %q lacks %q", st.Message(), w)
				}
			}
		})
	}
}

func TestModelInferModelErrors(t *testing.T) {
	srv, _ := newTestServer(t)
	client := dial(t, srv)

	cases := []struct {
		name, model, version string
		code                 codes.Code
		want                 string
	}{
		{"unknown model", "nope", "", codes.NotFound, `model not found: model "nope"`},
		{"unknown version", "linear", "9", codes.NotFound, `model "linear" version "9"`},
		{"model loading", "loading", "", codes.Unavailable, `model not ready`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := linearRequest([]float32{1, 2, 3})
			req.ModelName, req.ModelVersion = c.model, c.version
			_, err := client.ModelInfer(context.Background(), req)
			st := status.Convert(err)
			if st.Code() != c.code || !strings.Contains(st.Message(), c.want) {
				t.Errorf("got %v %q, want %v with %q", st.Code(), st.Message(), c.code, c.want)
			}
			// The repository's own text names a file path; callers must not see it.
			if strings.Contains(st.Message(), "/var/lib") {
				t.Errorf("message %q leaks the repository's error", st.Message())
			}
		})
	}
}

func TestModelInferUnsupportedDatatypes(t *testing.T) {
	srv, _ := newTestServer(t)
	cases := []struct {
		name string
		req  *inferencepb.ModelInferRequest
		want string
	}{
		{"FP16 input", &inferencepb.ModelInferRequest{ModelName: "half",
			Inputs:           []*inTensor{{Name: "x", Datatype: "FP16", Shape: []int64{1, 2}}},
			RawInputContents: [][]byte{{0, 0x3c, 0, 0x40}}},
			`input "x": this server cannot pass FP16`},
		{"FP16 output", &inferencepb.ModelInferRequest{ModelName: "half_out",
			Inputs: []*inTensor{input("x", []int64{1, 2}, []float32{1, 2})}},
			`model "half_out" version "1" gives output "y" of type FP16`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := srv.ModelInfer(context.Background(), c.req)
			st := status.Convert(err)
			if st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), c.want) {
				t.Errorf("got %v %q, want Unimplemented with %q", st.Code(), st.Message(),
					c.want)
			}
		})
	}
}

func TestModelInferDeadlinePassedNeverRuns(t *testing.T) {
	srv, repo := newTestServer(t)
	counted := &countingModel{Model: repo.models["linear"]}
	repo.models["linear"] = counted

	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := srv.ModelInfer(ctx, linearRequest([]float32{1, 2, 3}))
	if code := status.Code(err); code != codes.DeadlineExceeded {
		t.Errorf("code %v (%v), want DeadlineExceeded", code, err)
	}
	if n := counted.runs.Load(); n != 0 {
		t.Errorf("the model ran %d times", n)
	}

	// The same request in time does reach the model, so the count above can fail.
	_, err = srv.ModelInfer(context.Background(), linearRequest([]float32{1, 2, 3}))
	if err != nil {
		t.Fatal(err)
	}
	if n := counted.runs.Load(); n != 1 {
		t.Errorf("the model ran %d times, want 1", n)
	}
}

func TestModelInferNonFiniteAllowedByModel(t *testing.T) {
	srv, _ := newTestServer(t)
	nan := float32(math.NaN())
	req := &inferencepb.ModelInferRequest{ModelName: "pair_fp32_nan",
		Inputs: []*inTensor{
			input("a", []int64{1, 3}, []float32{nan, 1, float32(math.Inf(-1))}),
			input("b", []int64{1, 3}, []float32{1, 2, 3}),
		},
		Outputs: []*outQuery{{Name: "sum"}},
	}
	resp, err := srv.ModelInfer(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := outputData(t, resp, 0).([]float32)
	if !math.IsNaN(float64(got[0])) || got[1] != 3 || !math.IsInf(float64(got[2]), -1) {
		t.Errorf("sum = %v, want [NaN 3 -Inf]", got)
	}
}

func TestHealthAndMetadata(t *testing.T) {
	srv, repo := newTestServer(t)
	client := dial(t, srv)
	ctx := context.Background()

	live, err := client.ServerLive(ctx, &inferencepb.ServerLiveRequest{})
	if err != nil || !live.Live {
		t.Errorf("ServerLive = %v, %v; want live", live, err)
	}
	for _, ready := range []bool{true, false} {
		repo.ready = ready
		got, err := client.ServerReady(ctx, &inferencepb.ServerReadyRequest{})
		if err != nil || got.Ready != ready {
			t.Errorf("ServerReady = %v, %v; want %v", got, err, ready)
		}
	}

	meta, err := client.ServerMetadata(ctx, &inferencepb.ServerMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Name != "hydrocast" || meta.Version != "1.2.3" ||
		!slices.Equal(meta.Extensions, []string{"binary_tensor_data"}) {
		t.Errorf("ServerMetadata = %v", meta)
	}
}

func TestModelReady(t *testing.T) {
	srv, _ := newTestServer(t)
	client := dial(t, srv)
	cases := []struct {
		name, version string
		ready         bool
	}{
		{"linear", "", true},
		{"linear", "3", true},
		{"linear", "2", false},
		{"loading", "", false},
		{"nope", "", false},
	}
	for _, c := range cases {
		got, err := client.ModelReady(context.Background(),
			&inferencepb.ModelReadyRequest{Name: c.name, Version: c.version})
		if err != nil || got.Ready != c.ready {
			t.Errorf("ModelReady(%q, %q) = %v, %v; want %v", c.name, c.version, got, err,
				c.ready)
		}
	}
}

func TestModelMetadata(t *testing.T) {
	srv, _ := newTestServer(t)
	client := dial(t, srv)
	tm := func(name, dt string, shape ...int64) *tensorMeta {
		return &tensorMeta{Name: name, Datatype: dt,
			Shape: shape}
	}

	cases := []struct {
		name, version string
		want          *inferencepb.ModelMetadataResponse
	}{
		{"linear", "", &inferencepb.ModelMetadataResponse{
			Name: "linear", Versions: []string{"3"}, Platform: "onnx_onnxv1",
			Inputs: []*tensorMeta{
				tm("features", "FP32", -1, 3)},
			Outputs: []*tensorMeta{
				tm("sweat_rate_l_per_h", "FP32", -1, 1), tm("core_temp_c", "FP32", -1, 1)},
		}},
		{"pair_BOOL", "1", &inferencepb.ModelMetadataResponse{
			Name: "pair_BOOL", Versions: []string{"1"}, Platform: oip.Platform,
			Inputs: []*tensorMeta{
				tm("a", "BOOL", -1, 3), tm("b", "BOOL", -1, 3)},
			Outputs: []*tensorMeta{
				tm("sum", "BOOL", -1, 3), tm("first", "BOOL", -1, 3)},
		}},
		{"half", "", &inferencepb.ModelMetadataResponse{
			Name: "half", Versions: []string{"1"}, Platform: oip.Platform,
			Inputs:  []*tensorMeta{tm("x", "FP16", -1, 2)},
			Outputs: []*tensorMeta{tm("y", "FP16", -1, 2)},
		}},
		{"wide", "", &inferencepb.ModelMetadataResponse{
			Name: "wide", Versions: []string{"1"}, Platform: oip.Platform,
			Inputs: []*tensorMeta{
				tm("x", "FP32", -1, -1, -1)},
			Outputs: []*tensorMeta{
				tm("y", "FP32", -1, -1, -1)},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := client.ModelMetadata(context.Background(),
				&inferencepb.ModelMetadataRequest{Name: c.name, Version: c.version})
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, c.want) {
				t.Errorf("ModelMetadata = %v\nwant %v", got, c.want)
			}
		})
	}

	_, err := client.ModelMetadata(context.Background(),
		&inferencepb.ModelMetadataRequest{Name: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("ModelMetadata of an unknown model: %v, want NotFound", err)
	}
}
