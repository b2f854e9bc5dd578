package upload

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"

	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/models/ort/orttest"
	"github.com/hydrocast/hydrocast/registry"
)

// withModel returns an upload of linearModel after change has altered it.
func withModel(change func(m *onnx.ModelProto)) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		m := linearModel(t)
		change(m)
		return encode(t, m)
	}
}

func withSignature(change func(s *registry.Signature)) func() registry.Signature {
	return func() registry.Signature {
		s := signature()
		change(&s)
		return s
	}
}

// withWeightsIn returns an archive holding linearModel, whose weights live in an
// external file at location, and the files listed.
func withWeightsIn(archive func(testing.TB, ...entry) []byte, model, location string,
	files ...string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		m := linearModel(t)
		weights := externalize(t, m, "weights", location)
		entries := []entry{{name: model, data: encode(t, m)}}
		for _, f := range files {
			entries = append(entries, entry{name: f, data: weights})
		}
		return archive(t, entries...)
	}
}

func gzipped(archive func(testing.TB, ...entry) []byte) func(testing.TB, ...entry) []byte {
	return func(t testing.TB, entries ...entry) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(archive(t, entries...))
		zw.Close()
		return buf.Bytes()
	}
}

func setOpset(domain string, version int64) func(m *onnx.ModelProto) {
	return func(m *onnx.ModelProto) {
		m.OpsetImport = append(m.OpsetImport,
			&onnx.OperatorSetIdProto{Domain: domain, Version: version})
		if domain == "" {
			m.OpsetImport = m.OpsetImport[1:]
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		upload func(t *testing.T) []byte
		sig    func() registry.Signature // nil: signature()
		limit  int64                     // MaxBytes; 0 for the default
		want   string                    // part of the error; "" for success
	}{
		{name: "valid model", upload: withModel(func(*onnx.ModelProto) {})},
		{name: "weights in a zip", upload: withWeightsIn(makeZip, "model.onnx",
			"weights.bin", "weights.bin")},
		{name: "weights in a gzipped tar folder", upload: withWeightsIn(gzipped(makeTar),
			"./bundle/sweat.onnx", "data/weights.bin", "bundle/data/weights.bin")},

		// 1. size
		{name: "too large", upload: withModel(func(*onnx.ModelProto) {}), limit: 64,
			want: "exceeds the limit of 64"},
		{name: "empty", upload: func(*testing.T) []byte { return nil },
			want: "empty upload"},

		// 2. format
		{name: "truncated", upload: func(t *testing.T) []byte {
			data := encode(t, linearModel(t))
			return data[:len(data)*2/3]
		}, want: "not an ONNX model"},
		{name: "text", upload: func(*testing.T) []byte {
			return []byte("name,weight\nhr,0.3\n")
		}, want: "not an ONNX model"},
		{name: "zip entry climbing out", upload: func(t *testing.T) []byte {
			return makeZip(t, entry{name: "../../model.onnx", data: encode(t, linearModel(t))})
		}, want: "climbs out of the archive"},
		{name: "tar entry with absolute path", upload: func(t *testing.T) []byte {
			return makeTar(t, entry{name: "/srv/model.onnx", data: encode(t, linearModel(t))})
		}, want: "absolute path"},
		{name: "tar entry with backslash", upload: func(t *testing.T) []byte {
			return makeTar(t, entry{name: `..\model.onnx`, data: encode(t, linearModel(t))})
		}, want: "backslash"},
		{name: "tar symlink", upload: func(t *testing.T) []byte {
			return makeTar(t, entry{name: "model.onnx", data: encode(t, linearModel(t))},
				entry{name: "weights.bin", typeflag: tar.TypeSymlink, link: "/etc/passwd"})
		}, want: "symbolic link"},
		{name: "zip symlink", upload: func(t *testing.T) []byte {
			return makeZip(t, entry{name: "model.onnx", data: encode(t, linearModel(t))},
				entry{name: "weights.bin", typeflag: tar.TypeSymlink, link: "/etc/passwd"})
		}, want: "symbolic link"},
		{name: "tar hard link", upload: func(t *testing.T) []byte {
			return makeTar(t, entry{name: "model.onnx", data: encode(t, linearModel(t))},
				entry{name: "weights.bin", typeflag: tar.TypeLink, link: "model.onnx"})
		}, want: "hard link"},
		{name: "tar device", upload: func(t *testing.T) []byte {
			return makeTar(t, entry{name: "model.onnx", data: encode(t, linearModel(t))},
				entry{name: "null", typeflag: tar.TypeChar})
		}, want: "not a regular file"},
		{name: "two models", upload: func(t *testing.T) []byte {
			data := encode(t, linearModel(t))
			return makeZip(t, entry{name: "a.onnx", data: data},
				entry{name: "b.onnx", data: data})
		}, want: "2 .onnx files"},
		{name: "archive expanding past the limit", upload: func(t *testing.T) []byte {
			return makeZip(t, entry{name: "model.onnx", data: make([]byte, 1<<20)})
		}, limit: 64 << 10, want: "unpacks to more than"},

		// 3. versions
		{name: "IR too new", upload: withModel(func(m *onnx.ModelProto) {
			m.IrVersion = MaxIRVersion + 1
		}), want: "IR version 14"},
		{name: "IR too old", upload: withModel(func(m *onnx.ModelProto) { m.IrVersion = 2 }),
			want: "IR version 2"},
		{name: "opset too new", upload: withModel(setOpset("", 26)),
			want: "operator set ai.onnx version 26"},
		{name: "opset too old", upload: withModel(setOpset("", 6)),
			want: "operator set ai.onnx version 6"},
		{name: "ml opset too new", upload: withModel(setOpset("ai.onnx.ml", 6)),
			want: "operator set ai.onnx.ml version 6"},
		{name: "unknown domain", upload: withModel(setOpset("com.example.custom", 1)),
			want: `domain "com.example.custom"`},
		{name: "no default domain", upload: withModel(func(m *onnx.ModelProto) {
			m.OpsetImport = []*onnx.OperatorSetIdProto{{Domain: "ai.onnx.ml", Version: 3}}
		}), want: "no operator set imported for the default domain"},

		// 4. signature
		{name: "datatype mismatch", upload: withModel(func(*onnx.ModelProto) {}),
			sig:  withSignature(func(s *registry.Signature) { s.Inputs[0].Datatype = "FP64" }),
			want: "signature says FP64, graph holds FP32"},
		{name: "rank mismatch", upload: withModel(func(*onnx.ModelProto) {}),
			sig: withSignature(func(s *registry.Signature) {
				s.Outputs[0].Shape = []int64{-1}
			}), want: "has rank 1, graph shape [-1 1] rank 2"},
		{name: "fixed dimension mismatch", upload: withModel(func(*onnx.ModelProto) {}),
			sig: withSignature(func(s *registry.Signature) {
				s.Inputs[0].Shape, s.Inputs[0].Features = []int64{-1, 4}, nil
			}), want: "differ in dimension 1"},
		{name: "variable where the graph is fixed", upload: withModel(func(*onnx.ModelProto) {}),
			sig: withSignature(func(s *registry.Signature) {
				s.Inputs[0].Shape = []int64{-1, -1}
			}), want: "differ in dimension 1"},
		{name: "unknown input", upload: withModel(func(*onnx.ModelProto) {}),
			sig:  withSignature(func(s *registry.Signature) { s.Inputs[0].Name = "x" }),
			want: `signature input "x" is not a graph input`},
		{name: "unknown output", upload: withModel(func(*onnx.ModelProto) {}),
			sig:  withSignature(func(s *registry.Signature) { s.Outputs[0].Name = "rate" }),
			want: `signature output "rate" is not a graph output`},
		{name: "graph input left out", upload: withModel(func(m *onnx.ModelProto) {
			m.Graph.Input = append(m.Graph.Input, cloneInput(m.Graph.Input[0], "mask"))
		}), want: `graph input "mask" is not in the signature`},

		// 5. external data
		{name: "external data escaping its folder", upload: withWeightsIn(makeTar,
			"model.onnx", "../../etc/passwd", "weights.bin"),
			want: `location "../../etc/passwd" leaves the model's folder`},
		{name: "external data at an absolute path", upload: withWeightsIn(makeZip,
			"model.onnx", "/etc/passwd", "weights.bin"), want: "is an absolute path"},
		{name: "external data outside any archive", upload: func(t *testing.T) []byte {
			m := linearModel(t)
			externalize(t, m, "weights", "weights.bin")
			return encode(t, m)
		}, want: "in one zip or tar archive"},
		{name: "external data file missing", upload: withWeightsIn(makeZip,
			"model.onnx", "weights.bin", "other.bin"), want: "is not in the archive"},
		{name: "external data beside a folder's model", upload: withWeightsIn(makeZip,
			"bundle/model.onnx", "weights.bin", "weights.bin"),
			want: "is not in the archive"},
		{name: "external data out of range", upload: func(t *testing.T) []byte {
			m := linearModel(t)
			weights := externalize(t, m, "weights", "weights.bin")
			initializer(t, m, "weights").ExternalData[1].Value = "8"
			return makeZip(t, entry{name: "model.onnx", data: encode(t, m)},
				entry{name: "weights.bin", data: weights})
		}, want: "bytes 8 to 20"},
		{name: "huge initializer shape", upload: withModel(func(m *onnx.ModelProto) {
			tensorNamed(m, "weights").Dims = []int64{1 << 20, 1 << 20}
		}), want: "ask for more than"},

		// 6. trial
		{name: "operator the runtime lacks", upload: withModel(func(m *onnx.ModelProto) {
			m.Graph.Node[len(m.Graph.Node)-1].OpType = "NoSuchOperator"
		}), want: "model failed to load"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := signature()
			if tt.sig != nil {
				sig = tt.sig()
			}
			opts := options(t)
			opts.MaxBytes = tt.limit
			artifact, err := Validate(t.Context(), tt.upload(t), sig, opts)

			if tt.want != "" {
				if !errors.Is(err, registry.ErrInvalid) ||
					!strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want ErrInvalid saying %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("valid upload refused: %v", err)
			}
			selfContained(t, artifact)
		})
	}
}

// cloneInput returns a copy of an input value under another name.
func cloneInput(v *onnx.ValueInfoProto, name string) *onnx.ValueInfoProto {
	return &onnx.ValueInfoProto{Name: name, Type: v.GetType()}
}

// selfContained fails t unless artifact is an ONNX file without external data whose
// weights hold linearModel's values.
func selfContained(t *testing.T, artifact []byte) {
	t.Helper()
	m, err := parse(artifact)
	if err != nil {
		t.Fatalf("artifact does not parse: %v", err)
	}
	err = eachTensor(m, func(tp *onnx.TensorProto) error {
		if tp.GetDataLocation() == onnx.TensorProto_EXTERNAL || len(tp.GetExternalData()) > 0 {
			t.Errorf("artifact tensor %q still refers to external data", tp.GetName())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w := initializer(t, m, "weights")
	if n := len(w.GetFloatData()) + len(w.GetRawData())/4; n != 3 {
		t.Errorf("artifact weights hold %d values, want 3", n)
	}
}

// TestVersionBounds holds the version bounds to the runtime hydrocast links: the
// newest IR version and operator sets they allow must load, the next must not.
func TestVersionBounds(t *testing.T) {
	orttest.Init(t)
	tests := []struct {
		name   string
		change func(m *onnx.ModelProto)
		loads  bool
	}{
		{"newest IR", func(m *onnx.ModelProto) { m.IrVersion = MaxIRVersion }, true},
		{"IR after it", func(m *onnx.ModelProto) { m.IrVersion = MaxIRVersion + 1 }, false},
		{"newest opset", setOpset("", opsets[""].max), true},
		{"opset after it", setOpset("", opsets[""].max+1), false},
		{"newest ml opset", setOpset("ai.onnx.ml", opsets["ai.onnx.ml"].max), true},
		{"ml opset after it", setOpset("ai.onnx.ml", opsets["ai.onnx.ml"].max+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := linearModel(t)
			tt.change(m)
			s, err := ort.NewSession(encode(t, m), ort.Options{})
			if err == nil {
				s.Close()
			}
			if loads := err == nil; loads != tt.loads {
				t.Errorf("ONNX Runtime %s loads it: %v (error %v), want %v",
					ort.RuntimeVersion(), loads, err, tt.loads)
			}
			if err := checkVersions(m); (err == nil) != tt.loads {
				t.Errorf("checkVersions: %v, want it to agree with the runtime", err)
			}
		})
	}
}

func TestPrepareKeepsPlainModel(t *testing.T) {
	upload := encode(t, linearModel(t))
	artifact, err := Prepare(upload, signature(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(artifact, upload) {
		t.Error("a model without external data changed on its way through Prepare")
	}
}

func TestSignatureOf(t *testing.T) {
	sig, err := SignatureOf(encode(t, linearModel(t)))
	if err != nil {
		t.Fatal(err)
	}
	want := signature()
	want.Inputs[0].Features = nil
	got := []registry.Tensor{sig.Inputs[0], sig.Outputs[0]}
	for i, w := range []registry.Tensor{want.Inputs[0], want.Outputs[0]} {
		if len(sig.Inputs) != 1 || len(sig.Outputs) != 1 || got[i].Name != w.Name ||
			got[i].Datatype != w.Datatype || !slices.Equal(got[i].Shape, w.Shape) {
			t.Errorf("signature %+v, want %+v", sig, want)
		}
	}
}

func TestEntryName(t *testing.T) {
	tests := []struct {
		name string
		dir  bool
		want string // "" when refused
	}{
		{"model.onnx", false, "model.onnx"},
		{"./bundle/model.onnx", false, "bundle/model.onnx"},
		{"bundle/", true, "bundle"},
		{"../model.onnx", false, ""},
		{"bundle/../../model.onnx", false, ""},
		{"bundle/./model.onnx", false, ""},
		{"bundle//model.onnx", false, ""},
		{"/etc/passwd", false, ""},
		{"C:/model.onnx", false, ""},
		{`bundle\..\..\model.onnx`, false, ""},
		{"model\x00.onnx", false, ""},
		{"", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := entryName(tt.name, tt.dir)
			if tt.want == "" {
				if !errors.Is(err, registry.ErrInvalid) {
					t.Errorf("accepted as %q (error %v), want refused", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q (error %v), want %q", got, err, tt.want)
			}
		})
	}
}

// FuzzPrepare feeds arbitrary uploads to the static checks: they must never panic,
// and what they accept must be a self-contained model they accept again unchanged.
func FuzzPrepare(f *testing.F) {
	m := linearModel(f)
	plain := encode(f, m)
	weights := externalize(f, m, "weights", "w.bin")
	external := encode(f, m)
	f.Add(plain)
	f.Add(makeZip(f, entry{name: "model.onnx", data: external}, entry{name: "w.bin",
		data: weights}))
	f.Add(makeTar(f, entry{name: "m/model.onnx", data: external}, entry{name: "m/w.bin",
		data: weights}))
	f.Add([]byte("PK\x03\x04garbage"))

	opts := Options{MaxBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, upload []byte) {
		artifact, err := Prepare(upload, signature(), opts)
		if err != nil {
			if !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := Prepare(artifact, signature(), opts)
		if err != nil || !bytes.Equal(again, artifact) {
			t.Fatalf("accepted artifact not stable: error %v", err)
		}
	})
}
