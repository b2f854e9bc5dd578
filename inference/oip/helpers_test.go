package oip_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"sync/atomic"
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"
	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/inference/oip"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/models/ort/orttest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Shorter names for the generated nested message types.
type (
	inTensor   = inferencepb.ModelInferRequest_InferInputTensor
	outQuery   = inferencepb.ModelInferRequest_InferRequestedOutputTensor
	tensorMeta = inferencepb.ModelMetadataResponse_TensorMetadata
)

// Limits of the test server, small so that tests can cross them cheaply.
const (
	testMaxBatch = 8
	testMaxBytes = 64 << 10
)

// The linear test model: y = ((x − mean) / scale) · weights + bias, with every
// parameter a small dyadic number, so that for integer inputs each step is exact in
// float32 and the runtime's result can be compared with == whatever its summation
// order.
var (
	linearMean    = []float32{1, 2, 3}
	linearScale   = []float32{2, 4, 0.5}
	linearWeights = []float32{1, -2, 0.5, 1, 3, 0.25} // 3×2, row-major
	linearBias    = []float32{0.5, -1}
	linearOutputs = []string{"sweat_rate_l_per_h", "core_temp_c"}
)

// linearRef computes the linear model in float64; for the inputs the tests use, the
// result is exact.
func linearRef(x []float32) [][]float32 {
	rows := len(x) / 3
	out := [][]float32{make([]float32, rows), make([]float32, rows)}
	for r := range rows {
		for j := range 2 {
			y := float64(linearBias[j])
			for i := range 3 {
				z := (float64(x[r*3+i]) - float64(linearMean[i])) / float64(linearScale[i])
				y += z * float64(linearWeights[i*2+j])
			}
			out[j][r] = float32(y)
		}
	}
	return out
}

func linearModel(tb testing.TB) []byte {
	tb.Helper()
	b, err := onnxgraph.StandardizedLinear(onnxgraph.LinearSpec{
		Name: "linear", Mean: linearMean, Scale: linearScale, Weights: linearWeights,
		Bias: linearBias, Outputs: linearOutputs,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return marshal(tb, b)
}

// pairModel builds a model with inputs a and b of type t, shape [N, 3], and outputs
// "sum" (a + b, or a OR b for booleans) and "first" (a unchanged).
func pairModel(tb testing.TB, t onnx.TensorProto_DataType) []byte {
	tb.Helper()
	op := "Add"
	if t == onnx.TensorProto_BOOL {
		op = "Or"
	}
	b := onnxgraph.NewBuilder("pair").
		TypedInput("a", t, -1, 3).
		TypedInput("b", t, -1, 3).
		Node(op, []string{"a", "b"}, []string{"sum"}).
		Node("Identity", []string{"a"}, []string{"first"}).
		TypedOutput("sum", t, -1, 3).
		TypedOutput("first", t, -1, 3)
	return marshal(tb, b)
}

// identityModel builds a model passing input x of type t and the given dimensions
// through to output y.
func identityModel(tb testing.TB, t onnx.TensorProto_DataType, dims ...int64) []byte {
	tb.Helper()
	b := onnxgraph.NewBuilder("identity").
		TypedInput("x", t, dims...).
		Node("Identity", []string{"x"}, []string{"y"}).
		TypedOutput("y", t, dims...)
	return marshal(tb, b)
}

func marshal(tb testing.TB, b *onnxgraph.Builder) []byte {
	tb.Helper()
	data, err := b.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func newSession(tb testing.TB, model []byte) *ort.Session {
	tb.Helper()
	orttest.Init(tb)
	s, err := ort.NewSession(model, ort.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// testRepo is a Repository over a fixed set of models, one version each.
type testRepo struct {
	ready    bool
	models   map[string]oip.Model
	notReady map[string]bool
}

func (r *testRepo) Ready() bool { return r.ready }

func (r *testRepo) Model(name, version string) (oip.Model, error) {
	if r.notReady[name] {
		return nil, fmt.Errorf("load %s: %w", name, oip.ErrModelNotReady)
	}
	m, ok := r.models[name]
	if !ok || (version != "" && version != m.Version()) {
		return nil, fmt.Errorf("/var/lib/models/%s/%s: %w", name, version,
			oip.ErrModelNotFound)
	}
	return m, nil
}

// countingModel counts the runs that reach its model.
type countingModel struct {
	oip.Model
	runs atomic.Int64
}

func (m *countingModel) Run(ctx context.Context, in []ort.Tensor) ([]ort.Tensor, error) {
	m.runs.Add(1)
	return m.Model.Run(ctx, in)
}

// pairTypes are the element types the pair models are built for, by datatype.
var pairTypes = map[string]onnx.TensorProto_DataType{
	"FP32": onnx.TensorProto_FLOAT, "FP64": onnx.TensorProto_DOUBLE,
	"INT32": onnx.TensorProto_INT32, "INT64": onnx.TensorProto_INT64,
	"BOOL": onnx.TensorProto_BOOL,
}

// newTestRepo serves: "linear" (version "3"); "pair_<datatype>" for each of
// pairTypes; "pair_fp32_nan", which lets NaN and infinities through; "wide", an FP32
// identity with three open dimensions; "half", an FP16 identity; "half_out", which
// casts FP32 to FP16; and "loading", which is never ready.
func newTestRepo(tb testing.TB) *testRepo {
	tb.Helper()
	r := &testRepo{ready: true, models: map[string]oip.Model{},
		notReady: map[string]bool{"loading": true}}
	add := func(name string, model []byte, allowNonFinite bool) {
		r.models[name] = oip.NewSessionModel(name, "1", newSession(tb, model),
			allowNonFinite)
	}

	r.models["linear"] = oip.NewSessionModel("linear", "3", newSession(tb, linearModel(tb)),
		false)
	for dt, t := range pairTypes {
		add("pair_"+dt, pairModel(tb, t), false)
	}
	add("pair_fp32_nan", pairModel(tb, onnx.TensorProto_FLOAT), true)
	add("wide", identityModel(tb, onnx.TensorProto_FLOAT, -1, -1, -1), false)
	add("half", identityModel(tb, onnx.TensorProto_FLOAT16, -1, 2), false)
	add("half_out", marshal(tb, onnxgraph.NewBuilder("half_out").
		Input("x", -1, 2).
		Node("Cast", []string{"x"}, []string{"y"},
			onnxgraph.IntAttr("to", int64(onnx.TensorProto_FLOAT16))).
		TypedOutput("y", onnx.TensorProto_FLOAT16, -1, 2)), false)
	return r
}

func newTestServer(tb testing.TB) (*oip.Server, *testRepo) {
	tb.Helper()
	repo := newTestRepo(tb)
	srv := oip.New(repo, oip.Options{
		Version:  "1.2.3",
		MaxBatch: testMaxBatch, MaxRequestBytes: testMaxBytes,
	})
	return srv, repo
}

// dial serves srv's gRPC service on a loopback port and returns a client of it.
func dial(tb testing.TB, srv *oip.Server) inferencepb.GRPCInferenceServiceClient {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer()
	srv.Register(gs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		gs.Serve(lis)
	}()

	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn.Close()
		gs.Stop()
		<-done
	})
	return inferencepb.NewGRPCInferenceServiceClient(conn)
}

// input returns a typed input tensor holding data, a []float32, []float64, []int32,
// []int64 or []bool.
func input(name string, shape []int64, data any) *inTensor {
	in := &inTensor{Name: name, Shape: shape,
		Contents: &inferencepb.InferTensorContents{}}
	switch d := data.(type) {
	case []float32:
		in.Datatype, in.Contents.Fp32Contents = "FP32", d
	case []float64:
		in.Datatype, in.Contents.Fp64Contents = "FP64", d
	case []int32:
		in.Datatype, in.Contents.IntContents = "INT32", d
	case []int64:
		in.Datatype, in.Contents.Int64Contents = "INT64", d
	case []bool:
		in.Datatype, in.Contents.BoolContents = "BOOL", d
	default:
		panic(fmt.Sprintf("no datatype for %T", data))
	}
	return in
}

// toRaw moves every input's typed contents into raw_input_contents, encoding them
// little-endian by hand rather than by the package's own encoder.
func toRaw(req *inferencepb.ModelInferRequest) *inferencepb.ModelInferRequest {
	for _, in := range req.Inputs {
		var b []byte
		c := in.Contents
		for _, v := range c.GetFp32Contents() {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		for _, v := range c.GetFp64Contents() {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		for _, v := range c.GetIntContents() {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		for _, v := range c.GetInt64Contents() {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		for _, v := range c.GetBoolContents() {
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
		req.RawInputContents = append(req.RawInputContents, b)
		in.Contents = nil
	}
	return req
}

// outputData returns an output's elements, from raw_output_contents or from its
// typed contents, whichever the response used, failing tb if it used both or
// neither.
func outputData(tb testing.TB, resp *inferencepb.ModelInferResponse, i int) any {
	tb.Helper()
	out := resp.Outputs[i]
	if len(resp.RawOutputContents) == 0 {
		if out.Contents == nil {
			tb.Fatalf("output %q has neither contents nor raw contents", out.Name)
		}
		return typedData(tb, out.Datatype, out.Contents)
	}
	if out.Contents != nil {
		tb.Fatalf("output %q has contents besides raw_output_contents", out.Name)
	}
	return rawData(tb, out.Datatype, resp.RawOutputContents[i])
}

func typedData(tb testing.TB, datatype string, c *inferencepb.InferTensorContents) any {
	tb.Helper()
	switch datatype {
	case "FP32":
		return c.Fp32Contents
	case "FP64":
		return c.Fp64Contents
	case "INT32":
		return c.IntContents
	case "INT64":
		return c.Int64Contents
	case "BOOL":
		return c.BoolContents
	}
	tb.Fatalf("unexpected datatype %q", datatype)
	return nil
}

func rawData(tb testing.TB, datatype string, b []byte) any {
	tb.Helper()
	switch datatype {
	case "FP32":
		return decodeRaw(b, 4, func(b []byte) float32 {
			return math.Float32frombits(binary.LittleEndian.Uint32(b))
		})
	case "FP64":
		return decodeRaw(b, 8, func(b []byte) float64 {
			return math.Float64frombits(binary.LittleEndian.Uint64(b))
		})
	case "INT32":
		return decodeRaw(b, 4, func(b []byte) int32 {
			return int32(binary.LittleEndian.Uint32(b))
		})
	case "INT64":
		return decodeRaw(b, 8, func(b []byte) int64 {
			return int64(binary.LittleEndian.Uint64(b))
		})
	case "BOOL":
		return decodeRaw(b, 1, func(b []byte) bool { return b[0] != 0 })
	}
	tb.Fatalf("unexpected datatype %q", datatype)
	return nil
}

func decodeRaw[T any](b []byte, size int, read func([]byte) T) []T {
	out := make([]T, 0, len(b)/size)
	for i := 0; i+size <= len(b); i += size {
		out = append(out, read(b[i:i+size]))
	}
	return out
}

// linearRequest asks the linear model for both outputs on rows of three features.
func linearRequest(x []float32) *inferencepb.ModelInferRequest {
	return &inferencepb.ModelInferRequest{
		ModelName: "linear",
		Id:        "req-1",
		Inputs: []*inTensor{
			input("features", []int64{int64(len(x) / 3), 3}, x)},
	}
}
