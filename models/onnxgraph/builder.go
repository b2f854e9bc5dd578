// Package onnxgraph builds ONNX models in Go: a small Builder over the ONNX protobuf and
// constructors for the model shapes hydrocast's trainers produce (a standardised linear
// model and a small multilayer perceptron). Check validates a model's graph before it
// is written or served.
//
// Built models import the default ONNX domain at Opset and declare IRVersion, which
// ONNX Runtime 1.24 loads. The same calls always produce byte-identical files, so a
// model's hash identifies its weights.
//
// The constructors name the m result columns in one of two ways. With one output name
// the model has one output [N, m]; with m names it has m outputs, each [N, 1], in
// column order. Prefer the second for served models: an Open Inference Protocol client
// learns every output's name from ModelMetadata and asks for the ones it needs by name,
// names carry units ("sweat_rate_l_per_h"), and adding a column later adds an output
// instead of shifting the positions clients read. The [N, 1] shape keeps the batch
// dimension first, as batching servers expect.
package onnxgraph

import (
	"fmt"
	"maps"
	"slices"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

const (
	// Opset is the version of the default ONNX operator set that built models import.
	Opset = 13

	// IRVersion is the ONNX IR version built models declare. Version 8 (ONNX 1.10) is
	// the newest this protobuf knows; ONNX Runtime 1.24 reads versions up to 11.
	IRVersion = int64(onnx.Version_IR_VERSION)

	// Producer is the producer name written into every built model.
	Producer = "hydrocast"

	// BatchDim is the symbolic name of a dynamic leading dimension. Sharing one name
	// across inputs and outputs tells the runtime they hold the same number of rows.
	BatchDim = "N"
)

// Builder assembles one ONNX model. Its methods record what they are given in call
// order; problems are reported together by Model and Marshal, which run Check. A
// Builder is not safe for concurrent use.
type Builder struct {
	name     string
	doc      string
	inputs   []*onnx.ValueInfoProto
	outputs  []*onnx.ValueInfoProto
	inits    []*onnx.TensorProto
	nodes    []*onnx.NodeProto
	metadata map[string]string
}

// NewBuilder returns a Builder for a model whose graph is called name.
func NewBuilder(name string) *Builder {
	return &Builder{name: name, metadata: map[string]string{}}
}

// Doc sets the model's doc string, shown by ONNX tools such as Netron.
func (b *Builder) Doc(doc string) *Builder {
	b.doc = doc
	return b
}

// Metadata sets one entry of the model's metadata_props, which ONNX Runtime exposes
// as custom metadata. Setting a key again replaces its value.
func (b *Builder) Metadata(key, value string) *Builder {
	b.metadata[key] = value
	return b
}

// Input declares a float32 graph input. A dimension of -1 is dynamic: the leading one
// is named BatchDim, later ones are left unnamed.
func (b *Builder) Input(name string, dims ...int64) *Builder {
	return b.TypedInput(name, onnx.TensorProto_FLOAT, dims...)
}

// TypedInput declares a graph input with elements of type t, dimensions as for Input.
func (b *Builder) TypedInput(name string, t onnx.TensorProto_DataType,
	dims ...int64) *Builder {
	b.inputs = append(b.inputs, valueInfo(name, t, dims))
	return b
}

// Output declares a float32 graph output, with dimensions as for Input.
func (b *Builder) Output(name string, dims ...int64) *Builder {
	return b.TypedOutput(name, onnx.TensorProto_FLOAT, dims...)
}

// TypedOutput declares a graph output with elements of type t, dimensions as for
// Input.
func (b *Builder) TypedOutput(name string, t onnx.TensorProto_DataType,
	dims ...int64) *Builder {
	b.outputs = append(b.outputs, valueInfo(name, t, dims))
	return b
}

// Initializer adds a constant float32 tensor with the given dimensions; values are in
// row-major order and must number the product of dims.
func (b *Builder) Initializer(name string, dims []int64, values []float32) *Builder {
	b.inits = append(b.inits, &onnx.TensorProto{
		Name:      name,
		Dims:      slices.Clone(dims),
		DataType:  int32(onnx.TensorProto_FLOAT),
		FloatData: slices.Clone(values),
	})
	return b
}

// Node adds an operator of the default domain that reads inputs and writes outputs.
// Nodes must be added in an order where every input is defined before it is read.
func (b *Builder) Node(op string, inputs, outputs []string,
	attrs ...*onnx.AttributeProto) *Builder {
	b.nodes = append(b.nodes, &onnx.NodeProto{
		Name:      fmt.Sprintf("%s_%d", op, len(b.nodes)),
		OpType:    op,
		Input:     slices.Clone(inputs),
		Output:    slices.Clone(outputs),
		Attribute: attrs,
	})
	return b
}

// Model returns the assembled model after checking it with Check. The result shares
// nothing with the Builder.
func (b *Builder) Model() (*onnx.ModelProto, error) {
	m := &onnx.ModelProto{
		IrVersion:    IRVersion,
		ProducerName: Producer,
		DocString:    b.doc,
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: "", Version: Opset}},
		Graph: &onnx.GraphProto{
			Name:        b.name,
			Node:        b.nodes,
			Initializer: b.inits,
			Input:       b.inputs,
			Output:      b.outputs,
		},
	}

	// Sorted keys keep the file identical from run to run despite map order.
	for _, k := range slices.Sorted(maps.Keys(b.metadata)) {
		m.MetadataProps = append(m.MetadataProps,
			&onnx.StringStringEntryProto{Key: k, Value: b.metadata[k]})
	}

	if err := Check(m); err != nil {
		return nil, fmt.Errorf("check model %q: %w", b.name, err)
	}
	return proto.Clone(m).(*onnx.ModelProto), nil
}

// Marshal returns the checked model in the ONNX file format. The same Builder calls
// always give the same bytes.
func (b *Builder) Marshal() ([]byte, error) {
	m, err := b.Model()
	if err != nil {
		return nil, err
	}
	return Marshal(m)
}

// Marshal encodes m in the ONNX file format deterministically.
func Marshal(m *onnx.ModelProto) ([]byte, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal onnx model: %w", err)
	}
	return data, nil
}

// IntAttr returns an integer node attribute.
func IntAttr(name string, v int64) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_INT, I: v}
}

// IntsAttr returns an attribute holding a list of integers.
func IntsAttr(name string, v ...int64) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_INTS,
		Ints: slices.Clone(v)}
}

// FloatAttr returns a float node attribute.
func FloatAttr(name string, v float32) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_FLOAT, F: v}
}

// StringAttr returns a string node attribute.
func StringAttr(name, v string) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: name, Type: onnx.AttributeProto_STRING,
		S: []byte(v)}
}

func valueInfo(name string, t onnx.TensorProto_DataType,
	dims []int64) *onnx.ValueInfoProto {
	shape := &onnx.TensorShapeProto{}
	for i, d := range dims {
		dim := &onnx.TensorShapeProto_Dimension{}
		switch {
		case d >= 0:
			dim.Value = &onnx.TensorShapeProto_Dimension_DimValue{DimValue: d}
		case i == 0:
			dim.Value = &onnx.TensorShapeProto_Dimension_DimParam{DimParam: BatchDim}
		}
		shape.Dim = append(shape.Dim, dim)
	}

	return &onnx.ValueInfoProto{
		Name: name,
		Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{
			TensorType: &onnx.TypeProto_Tensor{
				ElemType: int32(t),
				Shape:    shape,
			},
		}},
	}
}
