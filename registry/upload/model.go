package upload

import (
	"fmt"
	"slices"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"github.com/hydrocast/hydrocast/registry"
)

// What ONNX Runtime 1.24, the runtime hydrocast serves with, loads. Its published
// compatibility table (onnxruntime.ai/docs/reference/compatibility.html) maps each
// release to an ONNX release; 1.24 builds on ONNX 1.20 (microsoft/onnxruntime
// issue 26520), whose IR version is 13 and whose newest operator sets are 25 for
// the default domain and 5 for ai.onnx.ml. Version 1.24.1 refuses IR 14 and opset
// 26 and accepts the rest; registry/upload's tests hold it to these bounds.
const (
	// MinIRVersion is the first IR version with operator set imports (ONNX 1.0).
	MinIRVersion = 3

	// MaxIRVersion is the newest IR version ONNX Runtime 1.24 reads.
	MaxIRVersion = 13
)

// opsetRange is the range of versions ONNX Runtime 1.24 implements for a domain.
type opsetRange struct{ min, max int64 }

// opsets lists the operator set domains ONNX Runtime 1.24 implements. The default
// domain starts at 7, the oldest operator set the runtime guarantees.
var opsets = map[string]opsetRange{
	"":              {7, 25},
	"ai.onnx":       {7, 25},
	"ai.onnx.ml":    {1, 5},
	"com.microsoft": {1, 1}, // the runtime's own contributed operators
}

// parse decodes an ONNX file far enough to check it.
func parse(data []byte) (*onnx.ModelProto, error) {
	m := &onnx.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, invalid("not an ONNX model: %v", err)
	}
	if m.GetGraph() == nil {
		return nil, invalid("not an ONNX model: no graph")
	}
	return m, nil
}

// marshal encodes the checked model; deterministic output keeps the artifact's
// digest stable for the same upload.
func marshal(m *onnx.ModelProto) ([]byte, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode onnx model: %w", err)
	}
	return data, nil
}

// checkVersions refuses IR versions and operator sets the runtime does not run.
// Domains of the model's own functions are allowed at any version, since the
// model defines them itself.
func checkVersions(m *onnx.ModelProto) error {
	ir := m.GetIrVersion()
	if ir < MinIRVersion || ir > MaxIRVersion {
		return invalid("IR version %d: ONNX Runtime 1.24 reads %d to %d", ir,
			MinIRVersion, MaxIRVersion)
	}

	local := make(map[string]bool)
	for _, f := range m.GetFunctions() {
		local[f.GetDomain()] = true
	}
	seen := make(map[string]bool)
	hasDefault := false
	for _, o := range m.GetOpsetImport() {
		domain, version := o.GetDomain(), o.GetVersion()
		key := domain
		if key == "ai.onnx" {
			key = ""
		}
		if seen[key] {
			return invalid("operator set domain %q imported twice", domain)
		}
		seen[key] = true
		hasDefault = hasDefault || key == ""

		r, known := opsets[domain]
		switch {
		case known && (version < r.min || version > r.max):
			return invalid("operator set %s version %d: ONNX Runtime 1.24 runs %d to %d",
				domainName(domain), version, r.min, r.max)
		case !known && !local[domain]:
			return invalid("operator set domain %q: ONNX Runtime 1.24 implements "+
				"ai.onnx, ai.onnx.ml and com.microsoft, and the model defines no "+
				"functions in it", domain)
		}
	}
	if !hasDefault {
		return invalid("no operator set imported for the default domain ai.onnx")
	}
	return nil
}

func domainName(domain string) string {
	if domain == "" {
		return "ai.onnx"
	}
	return domain
}

// checkSignature checks every declared tensor against the graph: inputs against
// the graph's inputs, outputs against its outputs, by name, element type, rank
// and dimensions. A declared fixed dimension may narrow a variable one of the
// graph; a declared variable one (-1) must be variable in the graph too, since
// servers will send any size there. Graph inputs without a default value must all
// be declared, or no server could feed them.
func checkSignature(m *onnx.ModelProto, sig registry.Signature) error {
	if err := sig.Check(); err != nil {
		return err
	}
	g := m.GetGraph()
	inputs := graphInputs(g)
	for _, t := range sig.Inputs {
		if err := matchTensor("input", t, inputs); err != nil {
			return err
		}
	}
	declared := make(map[string]bool, len(sig.Inputs))
	for _, t := range sig.Inputs {
		declared[t.Name] = true
	}
	for _, in := range inputs {
		if !declared[in.GetName()] {
			return invalid("graph input %q is not in the signature, so no server "+
				"would feed it", in.GetName())
		}
	}

	for _, t := range sig.Outputs {
		if err := matchTensor("output", t, g.GetOutput()); err != nil {
			return err
		}
	}
	return nil
}

// graphInputs returns the graph inputs a caller must feed: those without an
// initializer, which would otherwise give them a default value.
func graphInputs(g *onnx.GraphProto) []*onnx.ValueInfoProto {
	defaults := make(map[string]bool, len(g.GetInitializer()))
	for _, t := range g.GetInitializer() {
		defaults[t.GetName()] = true
	}
	var out []*onnx.ValueInfoProto
	for _, in := range g.GetInput() {
		if !defaults[in.GetName()] {
			out = append(out, in)
		}
	}
	return out
}

func matchTensor(kind string, t registry.Tensor, graph []*onnx.ValueInfoProto) error {
	i := slices.IndexFunc(graph, func(v *onnx.ValueInfoProto) bool {
		return v.GetName() == t.Name
	})
	if i < 0 {
		return invalid("signature %s %q is not a graph %s", kind, t.Name, kind)
	}
	tt := graph[i].GetType().GetTensorType()
	if tt == nil {
		return invalid("graph %s %q is not a tensor", kind, t.Name)
	}

	datatype := datatypes[onnx.TensorProto_DataType(tt.GetElemType())]
	if datatype != t.Datatype {
		return invalid("%s %q: signature says %s, graph holds %s", kind, t.Name,
			t.Datatype, elemTypeName(tt.GetElemType()))
	}
	if tt.GetShape() == nil {
		return nil // the graph leaves the shape open
	}
	dims := graphDims(tt.GetShape())
	if len(dims) != len(t.Shape) {
		return invalid("%s %q: signature shape %v has rank %d, graph shape %v rank %d",
			kind, t.Name, t.Shape, len(t.Shape), dims, len(dims))
	}
	for d := range dims {
		if dims[d] >= 0 && t.Shape[d] != dims[d] {
			return invalid("%s %q: signature shape %v, graph shape %v differ in "+
				"dimension %d", kind, t.Name, t.Shape, dims, d)
		}
	}
	return nil
}

// graphDims returns a shape's dimensions, -1 for one without a fixed size.
func graphDims(s *onnx.TensorShapeProto) []int64 {
	dims := make([]int64, len(s.GetDim()))
	for i, d := range s.GetDim() {
		dims[i] = -1
		if v, ok := d.GetValue().(*onnx.TensorShapeProto_Dimension_DimValue); ok &&
			v.DimValue >= 0 {
			dims[i] = v.DimValue
		}
	}
	return dims
}

// datatypes maps ONNX element types to Open Inference Protocol datatypes.
var datatypes = map[onnx.TensorProto_DataType]string{
	onnx.TensorProto_BOOL: "BOOL", onnx.TensorProto_UINT8: "UINT8",
	onnx.TensorProto_UINT16: "UINT16", onnx.TensorProto_UINT32: "UINT32",
	onnx.TensorProto_UINT64: "UINT64", onnx.TensorProto_INT8: "INT8",
	onnx.TensorProto_INT16: "INT16", onnx.TensorProto_INT32: "INT32",
	onnx.TensorProto_INT64: "INT64", onnx.TensorProto_FLOAT16: "FP16",
	onnx.TensorProto_BFLOAT16: "BF16", onnx.TensorProto_FLOAT: "FP32",
	onnx.TensorProto_DOUBLE: "FP64", onnx.TensorProto_STRING: "BYTES",
}

func elemTypeName(t int32) string {
	if d, ok := datatypes[onnx.TensorProto_DataType(t)]; ok {
		return d
	}
	return fmt.Sprintf("ONNX element type %d", t)
}

// SignatureOf reads the signature of an upload, an ONNX file or an archive holding
// one, from its graph: the inputs a caller must feed and every output, with their
// datatypes and shapes (-1 for a dimension without a fixed size). It names no
// features; the caller adds them.
func SignatureOf(upload []byte) (registry.Signature, error) {
	b, err := unpack(upload, registry.DefaultMaxUpload)
	if err != nil {
		return registry.Signature{}, err
	}
	m, err := parse(b.files[b.model])
	if err != nil {
		return registry.Signature{}, err
	}
	var sig registry.Signature
	g := m.GetGraph()
	if sig.Inputs, err = tensors("input", graphInputs(g)); err != nil {
		return registry.Signature{}, err
	}
	if sig.Outputs, err = tensors("output", g.GetOutput()); err != nil {
		return registry.Signature{}, err
	}
	return sig, nil
}

func tensors(kind string, values []*onnx.ValueInfoProto) ([]registry.Tensor, error) {
	out := make([]registry.Tensor, 0, len(values))
	for _, v := range values {
		tt := v.GetType().GetTensorType()
		if tt == nil {
			return nil, invalid("graph %s %q is not a tensor", kind, v.GetName())
		}
		datatype, ok := datatypes[onnx.TensorProto_DataType(tt.GetElemType())]
		if !ok {
			return nil, invalid("graph %s %q holds %s, which the inference protocol "+
				"cannot carry", kind, v.GetName(), elemTypeName(tt.GetElemType()))
		}
		if tt.GetShape() == nil {
			return nil, invalid("graph %s %q has no shape", kind, v.GetName())
		}
		out = append(out, registry.Tensor{Name: v.GetName(), Datatype: datatype,
			Shape: graphDims(tt.GetShape())})
	}
	return out, nil
}
