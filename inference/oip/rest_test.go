package oip_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
)

func restServer(tb testing.TB) (*httptest.Server, *testRepo) {
	tb.Helper()
	srv, repo := newTestServer(tb)
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return ts, repo
}

// call sends a request and returns the status code and the body.
func call(tb testing.TB, method, url, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, data
}

func TestRESTHealth(t *testing.T) {
	ts, repo := restServer(t)
	cases := []struct {
		name, path string
		notReady   bool
		want       int
	}{
		{"live", "/v2/health/live", false, 200},
		{"live while not ready", "/v2/health/live", true, 200},
		{"ready", "/v2/health/ready", false, 200},
		{"not ready", "/v2/health/ready", true, 400},
		{"model ready", "/v2/models/linear/ready", false, 200},
		{"model version ready", "/v2/models/linear/versions/3/ready", false, 200},
		{"unknown version", "/v2/models/linear/versions/4/ready", false, 404},
		{"unknown model", "/v2/models/nope/ready", false, 404},
		{"model loading", "/v2/models/loading/ready", false, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo.ready = !c.notReady
			if code, body := call(t, "GET", ts.URL+c.path, ""); code != c.want {
				t.Errorf("GET %s = %d %s, want %d", c.path, code, body, c.want)
			}
		})
	}
}

func TestRESTMetadata(t *testing.T) {
	ts, _ := restServer(t)
	cases := []struct {
		name, path string
		code       int
		want       string
	}{
		{"server", "/v2", 200,
			`{"name":"hydrocast","version":"1.2.3",` +
				`"extensions":["binary_tensor_data"]}`},
		{"model", "/v2/models/linear", 200,
			`{"name":"linear","versions":["3"],"platform":"onnx_onnxv1",` +
				`"inputs":[{"name":"features","datatype":"FP32","shape":[-1,3]}],` +
				`"outputs":[{"name":"sweat_rate_l_per_h","datatype":"FP32","shape":[-1,1]},` +
				`{"name":"core_temp_c","datatype":"FP32","shape":[-1,1]}]}`},
		{"model version", "/v2/models/pair_INT32/versions/1", 200,
			`{"name":"pair_INT32","versions":["1"],"platform":"onnx_onnxv1",` +
				`"inputs":[{"name":"a","datatype":"INT32","shape":[-1,3]},` +
				`{"name":"b","datatype":"INT32","shape":[-1,3]}],` +
				`"outputs":[{"name":"sum","datatype":"INT32","shape":[-1,3]},` +
				`{"name":"first","datatype":"INT32","shape":[-1,3]}]}`},
		{"unknown model", "/v2/models/nope", 404, `{"error":"model not found: model \"nope\""}`},
		{"model loading", "/v2/models/loading", 503,
			`{"error":"model not ready: model \"loading\""}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(t, "GET", ts.URL+c.path, "")
			if code != c.code {
				t.Errorf("GET %s = %d, want %d", c.path, code, c.code)
			}
			if !jsonEqual(t, body, []byte(c.want)) {
				t.Errorf("GET %s = %s\nwant %s", c.path, body, c.want)
			}
		})
	}
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		tb.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func TestRESTInfer(t *testing.T) {
	ts, _ := restServer(t)
	cases := []struct {
		name, path, body, want string
	}{
		{"linear, flat data", "/v2/models/linear/infer",
			`{"id":"r7","parameters":{"content_type":"np"},"inputs":[{"name":"features",` +
				`"shape":[2,3],"datatype":"FP32","data":[3,6,4,1,2,3]}]}`,
			`{"model_name":"linear","model_version":"3","id":"r7","outputs":[` +
				`{"name":"sweat_rate_l_per_h","datatype":"FP32","shape":[2,1],"data":[8,0.5]},` +
				`{"name":"core_temp_c","datatype":"FP32","shape":[2,1],"data":[-1.5,-1]}]}`},
		{"linear, nested data, one output", "/v2/models/linear/versions/3/infer",
			`{"inputs":[{"name":"features","shape":[2,3],"datatype":"FP32",` +
				`"data":[[3,6,4],[1,2,3]]}],"outputs":[{"name":"core_temp_c"}]}`,
			`{"model_name":"linear","model_version":"3","outputs":[` +
				`{"name":"core_temp_c","datatype":"FP32","shape":[2,1],"data":[-1.5,-1]}]}`},
		{"INT64 beyond 2^53 keeps every digit", "/v2/models/pair_INT64/infer",
			`{"inputs":[{"name":"a","shape":[1,3],"datatype":"INT64",` +
				`"data":[9007199254740993,-1,0]},{"name":"b","shape":[1,3],` +
				`"datatype":"INT64","data":[2,1,0]}],"outputs":[{"name":"sum"}]}`,
			`{"model_name":"pair_INT64","model_version":"1","outputs":[{"name":"sum",` +
				`"datatype":"INT64","shape":[1,3],"data":[9007199254740995,0,0]}]}`},
		{"BOOL", "/v2/models/pair_BOOL/infer",
			`{"inputs":[{"name":"a","shape":[1,3],"datatype":"BOOL",` +
				`"data":[true,false,false]},{"name":"b","shape":[1,3],` +
				`"datatype":"BOOL","data":[false,false,true]}],"outputs":[{"name":"sum"}]}`,
			`{"model_name":"pair_BOOL","model_version":"1","outputs":[{"name":"sum",` +
				`"datatype":"BOOL","shape":[1,3],"data":[true,false,true]}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(t, "POST", ts.URL+c.path, c.body)
			if code != 200 || !jsonEqual(t, body, []byte(c.want)) {
				t.Errorf("POST %s = %d %s\nwant 200 %s", c.path, code, body, c.want)
			}
		})
	}
}

// TestRESTMatchesGRPC runs random rows through both transports and expects the same
// numbers.
func TestRESTMatchesGRPC(t *testing.T) {
	srv, _ := newTestServer(t)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	rng := rand.New(rand.NewPCG(5, 6))

	x := make([]float32, 3*testMaxBatch)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 30)
	}
	resp, err := srv.ModelInfer(context.Background(), linearRequest(x))
	if err != nil {
		t.Fatal(err)
	}

	body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{
		"name": "features", "shape": []int{testMaxBatch, 3}, "datatype": "FP32", "data": x,
	}}})
	code, got := call(t, "POST", ts.URL+"/v2/models/linear/infer", string(body))
	if code != 200 {
		t.Fatalf("POST = %d %s", code, got)
	}
	var rest struct {
		Outputs []struct {
			Name string
			Data []float32
		}
	}
	if err := json.Unmarshal(got, &rest); err != nil {
		t.Fatal(err)
	}
	for i, out := range resp.Outputs {
		want := outputData(t, resp, i).([]float32)
		if rest.Outputs[i].Name != out.Name || !equalData(rest.Outputs[i].Data, want) {
			t.Errorf("REST output %s = %v, gRPC %s = %v", rest.Outputs[i].Name,
				rest.Outputs[i].Data, out.Name, want)
		}
	}
}

func TestRESTInferErrors(t *testing.T) {
	ts, _ := restServer(t)
	feature := func(datatype, shape, data string) string {
		return `{"inputs":[{"name":"features","datatype":"` + datatype + `","shape":` +
			shape + `,"data":` + data + `}]}`
	}
	cases := []struct {
		name, path, body string
		code             int
		want             []string
	}{
		{"unknown model", "/v2/models/nope/infer", feature("FP32", "[1,3]", "[1,2,3]"),
			404, []string{`model \"nope\"`}},
		{"model loading", "/v2/models/loading/infer", feature("FP32", "[1,3]", "[1,2,3]"),
			503, []string{"not ready"}},
		{"not JSON", "/v2/models/linear/infer", `{"inputs":`, 400,
			[]string{"read JSON body"}},
		{"id of the wrong kind", "/v2/models/linear/infer", `{"id":123,"inputs":[]}`, 400,
			[]string{"read JSON body: id is a JSON number; want a string"}},
		{"shape of the wrong kind", "/v2/models/linear/infer",
			feature("FP32", `"[1,3]"`, "[1,2,3]"), 400,
			[]string{"inputs.shape is a JSON string; want an array"}},
		{"body an array", "/v2/models/linear/infer", `[]`, 400,
			[]string{"the body is a JSON array; want an object"}},
		{"data an object", "/v2/models/linear/infer", feature("FP32", "[1,3]", `{"a":1}`),
			400, []string{"data is an object"}},
		{"count", "/v2/models/linear/infer", feature("FP32", "[2,3]", "[1,2,3]"), 400,
			[]string{`input \"features\"`, "3 values in data, the shape needs 6"}},
		{"no data", "/v2/models/linear/infer",
			`{"inputs":[{"name":"features","datatype":"FP32","shape":[1,3]}]}`, 400,
			[]string{`input \"features\"`, "no data"}},
		{"string element", "/v2/models/linear/infer",
			feature("FP32", "[1,3]", `[1,"2",3]`), 400,
			[]string{"element 1 is a string, not a number"}},
		{"FP32 overflow", "/v2/models/linear/infer", feature("FP32", "[1,3]", "[1,2,1e39]"),
			400, []string{"element 2: 1e39 is not a FP32 value"}},
		{"fraction for INT32", "/v2/models/pair_INT32/infer",
			`{"inputs":[{"name":"a","datatype":"INT32","shape":[1,3],"data":[1,2.5,3]},` +
				`{"name":"b","datatype":"INT32","shape":[1,3],"data":[1,2,3]}]}`, 400,
			[]string{`input \"a\"`, "2.5 is not a INT32 value"}},
		{"number for BOOL", "/v2/models/pair_BOOL/infer",
			`{"inputs":[{"name":"a","datatype":"BOOL","shape":[1,3],"data":[1,0,1]},` +
				`{"name":"b","datatype":"BOOL","shape":[1,3],"data":[true,true,true]}]}`,
			400, []string{`input \"a\"`, "element 0 is a number, not true or false"}},
		{"datatype", "/v2/models/linear/infer", feature("INT32", "[1,3]", "[1,2,3]"),
			400, []string{`datatype \"INT32\", the model takes FP32`}},
		{"batch", "/v2/models/linear/infer",
			feature("FP32", "[9,3]", "["+strings.Repeat("1,", 26)+"1]"), 400,
			[]string{"batch of 9 exceeds the limit of 8"}},
		{"too large", "/v2/models/linear/infer",
			feature("FP32", "[1,3]", "["+strings.Repeat("1,", testMaxBytes/2)+"1]"), 413,
			[]string{"request too large", "limit is 65536 bytes"}},
		{"overflow to infinity in the model", "/v2/models/pair_FP32/infer",
			`{"inputs":[{"name":"a","datatype":"FP32","shape":[1,3],"data":[3e38,0,0]},` +
				`{"name":"b","datatype":"FP32","shape":[1,3],"data":[3e38,0,0]}]}`, 500,
			[]string{`output \"sum\" element 0 is +Inf`, "JSON cannot carry it"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(t, "POST", ts.URL+c.path, c.body)
			if code != c.code {
				t.Errorf("POST %s = %d %s, want %d", c.path, code, body, c.code)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Fatalf("body %s is not {\"error\": ...}", body)
			}
			for _, w := range c.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("body %s lacks %s", body, w)
				}
			}
		})
	}
}

// TestRESTCompressedBody: a body in a content encoding the server does not read is
// refused as such (415), not as bad JSON, and an uncompressed body under such a
// header is not read as if the header were absent.
func TestRESTCompressedBody(t *testing.T) {
	ts, _ := restServer(t)
	body := `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,3],` +
		`"data":[1,2,3]}]}`
	req, err := http.NewRequest("POST", ts.URL+"/v2/models/linear/infer",
		strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType ||
		!strings.Contains(string(got), "Content-Encoding gzip") {
		t.Errorf("gzip body: %d %s, want 415 naming Content-Encoding gzip",
			resp.StatusCode, got)
	}
}

func TestRESTWrongMethod(t *testing.T) {
	ts, _ := restServer(t)
	if code, _ := call(t, "GET", ts.URL+"/v2/models/linear/infer", ""); code != 405 {
		t.Errorf("GET infer = %d, want 405", code)
	}
}

// TestNonFiniteOverGRPC shows that what REST refuses in TestRESTInferErrors travels
// over gRPC.
func TestNonFiniteOverGRPC(t *testing.T) {
	srv, _ := newTestServer(t)
	req := &inferencepb.ModelInferRequest{ModelName: "pair_FP32",
		Inputs: []*inTensor{
			input("a", []int64{1, 3}, []float32{3e38, 0, 0}),
			input("b", []int64{1, 3}, []float32{3e38, 0, 0}),
		}}
	resp, err := srv.ModelInfer(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := outputData(t, resp, 0).([]float32); !math.IsInf(float64(got[0]), 1) {
		t.Errorf("sum = %v, want +Inf first", got)
	}
}
