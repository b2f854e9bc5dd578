package oip_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// fuzzSeeds are valid requests for the fuzzers to mutate.
func fuzzSeeds() []*inferencepb.ModelInferRequest {
	var seeds []*inferencepb.ModelInferRequest
	for dt, c := range pairCases() {
		seeds = append(seeds, &inferencepb.ModelInferRequest{
			ModelName: "pair_" + dt,
			Inputs: []*inTensor{
				input("a", []int64{2, 3}, c.a), input("b", []int64{2, 3}, c.b)},
			Outputs: []*outQuery{
				{Name: "sum"}},
		})
	}
	seeds = append(seeds,
		linearRequest([]float32{1, 2, 3, 4, 5, 6}),
		toRaw(linearRequest([]float32{1, 2, 3})),
		toRaw(&inferencepb.ModelInferRequest{ModelName: "wide",
			Inputs: []*inTensor{
				input("x", []int64{1, 2, 1}, []float32{1, 2})}}),
	)
	return seeds
}

// FuzzModelInferRequest decodes random bytes as a ModelInferRequest and serves it.
// Whatever the bytes, the server must not panic, must not report an internal error
// (which would mean a request got past the checks and upset the runtime), and must
// answer with outputs whose data fills their shapes.
func FuzzModelInferRequest(f *testing.F) {
	srv, _ := newTestServer(f)
	for _, req := range fuzzSeeds() {
		data, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		req := &inferencepb.ModelInferRequest{}
		if proto.Unmarshal(data, req) != nil {
			return
		}
		resp, err := srv.ModelInfer(context.Background(), req)
		if err != nil {
			switch code := status.Code(err); code {
			case codes.InvalidArgument, codes.NotFound, codes.Unavailable,
				codes.Unimplemented:
			default:
				t.Fatalf("code %v: %v", code, err)
			}
			return
		}
		for i, out := range resp.Outputs {
			n := 1
			for _, d := range out.Shape {
				n *= int(d)
			}
			if got := dataLen(outputData(t, resp, i)); got != n {
				t.Errorf("output %s has %d values for shape %v", out.Name, got, out.Shape)
			}
		}
	})
}

func dataLen(data any) int {
	switch d := data.(type) {
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	case []int32:
		return len(d)
	case []int64:
		return len(d)
	case []bool:
		return len(d)
	}
	return -1
}

// FuzzRESTInfer posts random bodies to the REST twin, with the binary extension's
// length header when jsonLength is not negative. Every answer must be JSON, or JSON
// followed by binary data as the header says, and a server error may only be the one
// for outputs JSON cannot carry.
func FuzzRESTInfer(f *testing.F) {
	srv, _ := newTestServer(f)
	h := srv.Handler()
	for _, req := range fuzzSeeds() {
		if len(req.RawInputContents) > 0 {
			continue
		}
		var inputs []any
		for _, in := range req.Inputs {
			inputs = append(inputs, map[string]any{"name": in.Name, "shape": in.Shape,
				"datatype": in.Datatype, "data": typedData(f, in.Datatype, in.Contents)})
		}
		body, err := json.Marshal(map[string]any{"id": "x", "inputs": inputs})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(req.ModelName, -1, body)
	}
	doc := []byte(`{"inputs":[{"name":"features","shape":[1,3],"datatype":"FP32",` +
		`"parameters":{"binary_data_size":12}}],"parameters":{"binary_data_output":true}}`)
	f.Add("linear", len(doc), append(doc, float32Bytes(1, 2, 3)...))

	f.Fuzz(func(t *testing.T, model string, jsonLength int, body []byte) {
		if !validPathSegment(model) {
			return
		}
		r := httptest.NewRequest("POST", "/v2/models/"+model+"/infer",
			bytes.NewReader(body))
		if jsonLength >= 0 {
			r.Header.Set("Inference-Header-Content-Length", strconv.Itoa(jsonLength))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		answer := w.Body.Bytes()
		if n, err := strconv.Atoi(w.Header().Get("Inference-Header-Content-Length")); err == nil {
			if n > len(answer) {
				t.Fatalf("length header %d for %d bytes", n, len(answer))
			}
			answer = answer[:n]
		}
		if !json.Valid(answer) {
			t.Fatalf("status %d, body %q is not JSON", w.Code, answer)
		}
		if w.Code >= 500 && !strings.Contains(string(answer), "JSON cannot carry") {
			t.Fatalf("status %d: %s", w.Code, answer)
		}
	})
}

// validPathSegment reports whether s can stand in a request path as it is.
func validPathSegment(s string) bool {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/?#%") {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
