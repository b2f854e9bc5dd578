package oip_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// postBinary posts doc followed by bin with the binary extension's length header
// (none when header is "") and splits the answer into its JSON object and the binary
// data after it.
func postBinary(tb testing.TB, url, header string, doc, bin []byte) (int, []byte, []byte) {
	tb.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(append(doc, bin...)))
	if err != nil {
		tb.Fatal(err)
	}
	if header != "" {
		req.Header.Set("Inference-Header-Content-Length", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}

	h := resp.Header.Get("Inference-Header-Content-Length")
	if h == "" {
		return resp.StatusCode, body, nil
	}
	n, err := strconv.Atoi(h)
	if err != nil || n > len(body) {
		tb.Fatalf("length header %q for a body of %d bytes", h, len(body))
	}
	return resp.StatusCode, body[:n], body[n:]
}

func float32Bytes(x ...float32) []byte {
	var b []byte
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestRESTBinaryTensors(t *testing.T) {
	ts, _ := restServer(t)
	url := ts.URL + "/v2/models/linear/infer"
	x := []float32{3, 6, 4, 1, 2, 3}
	want := linearRef(x)
	in := float32Bytes(x...)
	input := `"inputs":[{"name":"features","shape":[2,3],"datatype":"FP32",` +
		`"parameters":{"binary_data_size":24}}]`

	cases := []struct {
		name      string
		doc       string
		binary    []bool // per output in response order: data in binary
		outputIdx []int  // positions in linearOutputs, in response order
	}{
		{"all outputs binary", `{` + input + `,"parameters":{"binary_data_output":true}}`,
			[]bool{true, true}, []int{0, 1}},
		{"binary by default, one output in JSON", `{` + input + `,` +
			`"parameters":{"binary_data_output":true},"outputs":[{"name":"core_temp_c",` +
			`"parameters":{"binary_data":false}},{"name":"sweat_rate_l_per_h"}]}`,
			[]bool{false, true}, []int{1, 0}},
		{"JSON by default, one output binary", `{` + input + `,"outputs":[` +
			`{"name":"sweat_rate_l_per_h"},{"name":"core_temp_c",` +
			`"parameters":{"binary_data":true}}]}`, []bool{false, true}, []int{0, 1}},
		{"binary in, JSON out", `{` + input + `}`, []bool{false, false}, []int{0, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, doc, bin := postBinary(t, url, strconv.Itoa(len(c.doc)), []byte(c.doc), in)
			if code != 200 {
				t.Fatalf("status %d: %s", code, doc)
			}
			var resp struct {
				Outputs []struct {
					Name       string
					Parameters map[string]any
					Data       []float32
				}
			}
			if err := json.Unmarshal(doc, &resp); err != nil {
				t.Fatalf("decode %s: %v", doc, err)
			}
			if len(resp.Outputs) != len(c.binary) {
				t.Fatalf("%d outputs, want %d", len(resp.Outputs), len(c.binary))
			}

			for i, out := range resp.Outputs {
				k := c.outputIdx[i]
				got := out.Data
				if c.binary[i] {
					size := out.Parameters["binary_data_size"]
					if size != float64(8) || out.Data != nil {
						t.Fatalf("output %s: binary_data_size %v, data %v; want 8, none",
							out.Name, size, out.Data)
					}
					got = rawData(t, "FP32", bin[:8]).([]float32)
					bin = bin[8:]
				}
				if out.Name != linearOutputs[k] || !slices.Equal(got, want[k]) {
					t.Errorf("output %d is %s = %v, want %s = %v", i, out.Name, got,
						linearOutputs[k], want[k])
				}
			}
			if len(bin) != 0 {
				t.Errorf("%d bytes of binary data left over", len(bin))
			}
		})
	}
}

// TestRESTBinaryCarriesInfinity shows the way around the refusal of non-finite
// outputs in JSON.
func TestRESTBinaryCarriesInfinity(t *testing.T) {
	ts, _ := restServer(t)
	doc := `{"inputs":[{"name":"a","datatype":"FP32","shape":[1,3],"data":[3e38,0,0]},` +
		`{"name":"b","datatype":"FP32","shape":[1,3],"data":[3e38,0,0]}],` +
		`"outputs":[{"name":"sum","parameters":{"binary_data":true}}]}`
	code, body, bin := postBinary(t, ts.URL+"/v2/models/pair_FP32/infer", "", []byte(doc),
		nil)
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	got := rawData(t, "FP32", bin).([]float32)
	if len(got) != 3 || !math.IsInf(float64(got[0]), 1) || got[1] != 0 {
		t.Errorf("sum = %v, want [+Inf 0 0]", got)
	}
}

func TestRESTBinaryErrors(t *testing.T) {
	ts, _ := restServer(t)
	url := ts.URL + "/v2/models/linear/infer"
	withSize := func(size string) string {
		return `{"inputs":[{"name":"features","shape":[1,3],"datatype":"FP32",` +
			`"parameters":{"binary_data_size":` + size + `}}]}`
	}
	twelve := float32Bytes(1, 2, 3)

	cases := []struct {
		name   string
		header string // "" for the JSON length, "-" for none
		doc    string
		bin    []byte
		want   string
	}{
		{"length header not a number", "twelve", withSize("12"), twelve,
			`header Inference-Header-Content-Length is \"twelve\"`},
		{"length header past the body", "9999", withSize("12"), twelve,
			"not a length within the body"},
		{"size past the data", "", withSize("16"), twelve,
			"binary_data_size is 16, only 12 bytes of binary data remain"},
		{"data left over", "", withSize("8"), twelve,
			"4 bytes of binary data follow"},
		{"size and count disagree", "", withSize("8"), twelve[:8],
			"8 raw bytes, the shape needs 3 elements of 4 bytes"},
		{"size not a count", "", withSize("1.5"), twelve,
			"parameter binary_data_size is 1.5, not a byte count"},
		{"size and data", "", `{"inputs":[{"name":"features","shape":[1,3],` +
			`"datatype":"FP32","data":[1,2,3],"parameters":{"binary_data_size":12}}]}`,
			twelve, "has data and binary_data_size"},
		{"binary_data not a boolean", "", `{"inputs":[{"name":"features","shape":[1,3],` +
			`"datatype":"FP32","data":[1,2,3]}],"outputs":[{"name":"core_temp_c",` +
			`"parameters":{"binary_data":"yes"}}]}`, nil,
			`output \"core_temp_c\": parameter binary_data is yes, not true or false`},
		{"binary without the header", "-", withSize("12"), twelve, "read JSON body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			header := c.header
			switch header {
			case "":
				header = strconv.Itoa(len(c.doc))
			case "-":
				header = ""
			}
			code, body, _ := postBinary(t, url, header, []byte(c.doc), c.bin)
			if code != 400 || !strings.Contains(string(body), c.want) {
				t.Errorf("status %d %s, want 400 with %s", code, body, c.want)
			}
		})
	}
}
