package onnxgraph_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"google.golang.org/protobuf/proto"
)

// validLinear returns a small checked model's builder steps, for cases to break.
func validLinear() *onnxgraph.Builder {
	return onnxgraph.NewBuilder("ok").
		Input("x", -1, 2).
		Initializer("w", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6}).
		Initializer("b", []int64{3}, []float32{1, 1, 1}).
		Node("MatMul", []string{"x", "w"}, []string{"xw"}).
		Node("Add", []string{"xw", "b"}, []string{"y"}).
		Output("y", -1, 3)
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name  string
		build func() *onnxgraph.Builder
		want  error // nil for a valid model
	}{
		{"valid", validLinear, nil},
		{"empty graph", func() *onnxgraph.Builder {
			return onnxgraph.NewBuilder("empty").Input("x", 1).Output("x", 1)
		}, onnxgraph.ErrEmptyGraph},
		{"dangling node input", func() *onnxgraph.Builder {
			return validLinear().Node("Relu", []string{"nowhere"}, []string{"r"})
		}, onnxgraph.ErrDangling},
		{"input used before it is defined", func() *onnxgraph.Builder {
			return onnxgraph.NewBuilder("order").Input("x", -1, 2).
				Node("Relu", []string{"late"}, []string{"y"}).
				Node("Relu", []string{"x"}, []string{"late"}).
				Output("y", -1, 2)
		}, onnxgraph.ErrDangling},
		{"output never produced", func() *onnxgraph.Builder {
			return validLinear().Output("z", -1, 3)
		}, onnxgraph.ErrDangling},
		{"value defined twice", func() *onnxgraph.Builder {
			return validLinear().Node("Relu", []string{"x"}, []string{"xw"})
		}, onnxgraph.ErrDuplicateName},
		{"initializer shorter than its dims", func() *onnxgraph.Builder {
			return validLinear().Initializer("v", []int64{2, 2}, []float32{1, 2, 3})
		}, onnxgraph.ErrShapeMismatch},
		{"weights of the wrong height", func() *onnxgraph.Builder {
			return onnxgraph.NewBuilder("matmul").Input("x", -1, 4).
				Initializer("w", []int64{3, 1}, []float32{1, 2, 3}).
				Node("MatMul", []string{"x", "w"}, []string{"y"}).
				Output("y", -1, 1)
		}, onnxgraph.ErrShapeMismatch},
		{"bias that does not broadcast", func() *onnxgraph.Builder {
			return onnxgraph.NewBuilder("add").Input("x", -1, 3).
				Initializer("b", []int64{2}, []float32{1, 2}).
				Node("Add", []string{"x", "b"}, []string{"y"}).
				Output("y", -1, 3)
		}, onnxgraph.ErrShapeMismatch},
		{"gemm bias of the wrong width", func() *onnxgraph.Builder {
			return onnxgraph.NewBuilder("gemm").Input("x", -1, 2).
				Initializer("w", []int64{2, 2}, []float32{1, 2, 3, 4}).
				Initializer("b", []int64{3}, []float32{1, 2, 3}).
				Node("Gemm", []string{"x", "w", "b"}, []string{"y"}).
				Output("y", -1, 2)
		}, onnxgraph.ErrShapeMismatch},
		{"uneven split", func() *onnxgraph.Builder {
			return onnxgraph.NewBuilder("split").Input("x", -1, 3).
				Node("Split", []string{"x"}, []string{"a", "b"}, onnxgraph.IntAttr("axis", 1)).
				Output("a", -1, 1).Output("b", -1, 2)
		}, onnxgraph.ErrShapeMismatch},
		{"output declared with another width", func() *onnxgraph.Builder {
			return onnxgraph.NewBuilder("decl").Input("x", -1, 3).
				Node("Relu", []string{"x"}, []string{"y"}).
				Output("y", -1, 4)
		}, onnxgraph.ErrShapeMismatch},
		{"unknown operator is trusted", func() *onnxgraph.Builder {
			return onnxgraph.NewBuilder("custom").Input("x", -1, 3).
				Node("LpNormalization", []string{"x"}, []string{"y"}).
				Output("y", -1, 7)
		}, nil},
		{"node without operator", func() *onnxgraph.Builder {
			return validLinear().Node("", []string{"y"}, []string{"z"})
		}, onnxgraph.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.build().Model()
			if c.want == nil && err != nil {
				t.Fatalf("Model() = %v, want no error", err)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Model() = %v, want %v", err, c.want)
			}
		})
	}
}

func TestCheckMissingPieces(t *testing.T) {
	m, err := validLinear().Model()
	if err != nil {
		t.Fatal(err)
	}
	noOpset := proto.Clone(m).(*onnx.ModelProto)
	noOpset.OpsetImport = nil

	cases := []struct {
		name  string
		model *onnx.ModelProto
		want  error
	}{
		{"no graph", &onnx.ModelProto{}, onnxgraph.ErrInvalid},
		{"no operator set", noOpset, onnxgraph.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := onnxgraph.Check(c.model); !errors.Is(err, c.want) {
				t.Fatalf("Check() = %v, want %v", err, c.want)
			}
		})
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	_, err := validLinear().
		Node("Relu", []string{"nowhere"}, []string{"r"}).
		Initializer("v", []int64{2}, []float32{1}).
		Model()
	for _, want := range []error{onnxgraph.ErrDangling, onnxgraph.ErrShapeMismatch} {
		if !errors.Is(err, want) {
			t.Errorf("Model() = %v, want it to include %v", err, want)
		}
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	spec := func(bias float32) onnxgraph.LinearSpec {
		return onnxgraph.LinearSpec{
			Name: "sweat", Doc: "sweat rate",
			Mean: []float32{140, 30}, Scale: []float32{15, 4},
			Weights: []float32{0.2, 0.1, 0.3, 0.05}, Bias: []float32{bias, 0.4},
			Outputs: []string{"sweat_rate_l_per_h", "sweat_rate_sd_l_per_h"},
			Metadata: map[string]string{
				"model": "sweat", "version": "3", "features": "heart_rate_bpm,skin_temp_c",
				"trained_on": "cohort-a", "schema": "v1",
			},
		}
	}
	marshal := func(bias float32) []byte {
		t.Helper()
		b, err := onnxgraph.StandardizedLinear(spec(bias))
		if err != nil {
			t.Fatal(err)
		}
		data, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	first := marshal(0.8)
	for i := range 20 {
		if again := marshal(0.8); !bytes.Equal(first, again) {
			t.Fatalf("build %d differs from the first: %d vs %d bytes", i+2, len(again),
				len(first))
		}
	}
	if bytes.Equal(first, marshal(0.9)) {
		t.Error("a different bias gives the same bytes")
	}
}

func TestModelHeader(t *testing.T) {
	b, err := onnxgraph.StandardizedLinear(onnxgraph.LinearSpec{
		Name: "h", Doc: "doc", Mean: []float32{0}, Scale: []float32{1},
		Weights: []float32{1}, Bias: []float32{0}, Outputs: []string{"y"},
		Metadata: map[string]string{"b": "2", "a": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := b.Metadata("c", "3").Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnxgraph.Decode(data)
	if err != nil {
		t.Fatal(err)
	}

	if m.GetProducerName() != "hydrocast" || m.GetDocString() != "doc" ||
		m.GetIrVersion() != onnxgraph.IRVersion {
		t.Errorf("header: producer %q, doc %q, IR %d", m.GetProducerName(),
			m.GetDocString(), m.GetIrVersion())
	}
	if ops := m.GetOpsetImport(); len(ops) != 1 || ops[0].GetVersion() != 13 {
		t.Errorf("opset imports %v, want the default domain at 13", ops)
	}
	var keys []string
	for _, p := range m.GetMetadataProps() {
		keys = append(keys, p.GetKey()+"="+p.GetValue())
	}
	if got := strings.Join(keys, " "); got != "a=1 b=2 c=3" {
		t.Errorf("metadata %s, want a=1 b=2 c=3 in key order", got)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	cases := map[string][]byte{
		"not protobuf":       {0xff, 0xff, 0xff},
		"empty":              {},
		"protobuf, no graph": mustMarshal(t, &onnx.ModelProto{IrVersion: 8}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := onnxgraph.Decode(data); !errors.Is(err, onnxgraph.ErrInvalid) {
				t.Fatalf("Decode() = %v, want %v", err, onnxgraph.ErrInvalid)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	valid, err := validLinear().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnxgraph.Decode(data)
		if err != nil {
			return
		}
		// What Decode accepts must survive a round trip unchanged and still check.
		again, err := onnxgraph.Marshal(m)
		if err != nil {
			t.Fatalf("Marshal of a decoded model: %v", err)
		}
		m2, err := onnxgraph.Decode(again)
		if err != nil {
			t.Fatalf("Decode of a re-marshalled model: %v", err)
		}
		if !proto.Equal(m, m2) {
			t.Fatal("round trip changed the model")
		}
	})
}

func mustMarshal(t *testing.T, m *onnx.ModelProto) []byte {
	t.Helper()
	data, err := onnxgraph.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSpecErrors(t *testing.T) {
	linear := func(edit func(*onnxgraph.LinearSpec)) error {
		s := onnxgraph.LinearSpec{
			Name: "l", Mean: []float32{1, 2}, Scale: []float32{1, 2},
			Weights: []float32{1, 2, 3, 4}, Bias: []float32{0, 0},
			Outputs: []string{"a", "b"},
		}
		edit(&s)
		_, err := onnxgraph.StandardizedLinear(s)
		return err
	}
	mlp := func(edit func(*onnxgraph.MLPSpec)) error {
		s := onnxgraph.MLPSpec{
			Name:    "m",
			Hidden:  []onnxgraph.Layer{{Weights: []float32{1, 2, 3, 4}, Bias: []float32{0, 0}}},
			Final:   onnxgraph.Layer{Weights: []float32{1, 2}, Bias: []float32{0}},
			Outputs: []string{"y"},
		}
		edit(&s)
		_, err := onnxgraph.MLP(s)
		return err
	}
	nan := float32(math.NaN())

	cases := []struct {
		name string
		err  error
		want error
	}{
		{"linear as given", linear(func(*onnxgraph.LinearSpec) {}), nil},
		{"zero scale", linear(func(s *onnxgraph.LinearSpec) { s.Scale[1] = 0 }),
			onnxgraph.ErrInvalid},
		{"NaN weight", linear(func(s *onnxgraph.LinearSpec) { s.Weights[2] = nan }),
			onnxgraph.ErrInvalid},
		{"fewer scales than means", linear(func(s *onnxgraph.LinearSpec) {
			s.Scale = s.Scale[:1]
		}), onnxgraph.ErrShapeMismatch},
		{"weights not k×m", linear(func(s *onnxgraph.LinearSpec) {
			s.Weights = s.Weights[:3]
		}), onnxgraph.ErrShapeMismatch},
		{"three names for two columns", linear(func(s *onnxgraph.LinearSpec) {
			s.Outputs = []string{"a", "b", "c"}
		}), onnxgraph.ErrShapeMismatch},
		{"repeated output name", linear(func(s *onnxgraph.LinearSpec) {
			s.Outputs = []string{"a", "a"}
		}), onnxgraph.ErrInvalid},
		{"output named like an internal value", linear(func(s *onnxgraph.LinearSpec) {
			s.Outputs = []string{"y", "mean"}
		}), onnxgraph.ErrDuplicateName},
		{"unknown activation", linear(func(s *onnxgraph.LinearSpec) {
			s.Activation = 7
		}), onnxgraph.ErrInvalid},
		{"mlp as given", mlp(func(*onnxgraph.MLPSpec) {}), nil},
		{"no hidden layer", mlp(func(s *onnxgraph.MLPSpec) { s.Hidden = nil }),
			onnxgraph.ErrInvalid},
		{"three hidden layers", mlp(func(s *onnxgraph.MLPSpec) {
			s.Hidden = append(s.Hidden, s.Hidden[0], s.Hidden[0])
		}), onnxgraph.ErrInvalid},
		{"final layer of the wrong height", mlp(func(s *onnxgraph.MLPSpec) {
			s.Final.Weights = []float32{1, 2, 3}
		}), onnxgraph.ErrShapeMismatch},
		{"means for another width", mlp(func(s *onnxgraph.MLPSpec) {
			s.Mean, s.Scale = []float32{1, 2, 3}, []float32{1, 1, 1}
		}), onnxgraph.ErrShapeMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == nil && c.err != nil {
				t.Fatalf("error %v, want none", c.err)
			}
			if !errors.Is(c.err, c.want) {
				t.Fatalf("error %v, want %v", c.err, c.want)
			}
		})
	}
}
