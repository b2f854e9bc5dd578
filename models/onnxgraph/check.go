package onnxgraph

import (
	"errors"
	"fmt"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"
)

// Problems Check reports; test for them with errors.Is.
var (
	// ErrInvalid marks a model whose structure is unusable: no graph, no operator set,
	// unnamed values or nodes without an operator.
	ErrInvalid = errors.New("invalid onnx model")

	// ErrEmptyGraph marks a graph without nodes, inputs or outputs.
	ErrEmptyGraph = errors.New("empty onnx graph")

	// ErrDangling marks a node input or graph output that nothing defines.
	ErrDangling = errors.New("dangling value")

	// ErrDuplicateName marks a value defined twice.
	ErrDuplicateName = errors.New("duplicate value name")

	// ErrShapeMismatch marks an initializer whose data does not fill its dimensions, or
	// operands whose shapes an operator cannot combine.
	ErrShapeMismatch = errors.New("shape mismatch")
)

// Decode parses an ONNX file and checks its main graph with Check.
func Decode(data []byte) (*onnx.ModelProto, error) {
	m := &onnx.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("decode onnx model: %w: %w", ErrInvalid, err)
	}
	if err := Check(m); err != nil {
		return nil, err
	}
	return m, nil
}

// Check validates a model's main graph without running it: the graph has nodes, inputs
// and outputs; nodes come in an order where every input is defined first; no value is
// defined twice; every initializer's data fills its dimensions; and, for the operators
// hydrocast's builders use, operand shapes agree. Operators it does not know are
// trusted and their outputs are of unknown shape. All problems found are returned
// together, each wrapping one of the Err values of this package.
func Check(m *onnx.ModelProto) error {
	g := m.GetGraph()
	if g == nil {
		return fmt.Errorf("%w: no graph", ErrInvalid)
	}

	c := &checker{shapes: map[string]shape{}}
	if !importsDefaultDomain(m) {
		c.fail(ErrInvalid, "no operator set imported for the default domain")
	}
	if len(g.GetNode()) == 0 || len(g.GetInput()) == 0 || len(g.GetOutput()) == 0 {
		c.fail(ErrEmptyGraph, "graph %q has %d nodes, %d inputs and %d outputs",
			g.GetName(), len(g.GetNode()), len(g.GetInput()), len(g.GetOutput()))
	}

	c.defineInitializers(g.GetInitializer())
	c.defineInputs(g.GetInput())
	for _, n := range g.GetNode() {
		c.node(n)
	}
	c.outputs(g.GetOutput())
	return errors.Join(c.errs...)
}

func importsDefaultDomain(m *onnx.ModelProto) bool {
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			return true
		}
	}
	return false
}

// checker walks one graph in node order, keeping the shape of every defined value.
type checker struct {
	shapes map[string]shape
	inits  map[string]*onnx.TensorProto
	errs   []error
}

func (c *checker) fail(kind error, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...)))
}

func (c *checker) define(name string, s shape) {
	if name == "" {
		c.fail(ErrInvalid, "unnamed value")
		return
	}
	if _, ok := c.shapes[name]; ok {
		c.fail(ErrDuplicateName, "%q is defined more than once", name)
		return
	}
	c.shapes[name] = s
}

func (c *checker) defineInitializers(inits []*onnx.TensorProto) {
	c.inits = make(map[string]*onnx.TensorProto, len(inits))
	for _, t := range inits {
		// A scalar has no dimensions; it must not read as a value of unknown rank.
		s := append(shape{}, t.GetDims()...)
		if n, ok := elementCount(t); ok && s.known() && n != s.size() {
			c.fail(ErrShapeMismatch, "initializer %q has %d values for dimensions %v",
				t.GetName(), n, s)
		}
		c.define(t.GetName(), s)
		c.inits[t.GetName()] = t
	}
}

func (c *checker) defineInputs(inputs []*onnx.ValueInfoProto) {
	for _, in := range inputs {
		// An input may share its name with an initializer, which then is its default
		// value; the declared shape must agree with the default.
		if _, isInit := c.inits[in.GetName()]; isInit {
			if !declaredShape(in).compatible(c.shapes[in.GetName()]) {
				c.fail(ErrShapeMismatch, "input %q is declared %v, its initializer is %v",
					in.GetName(), declaredShape(in), c.shapes[in.GetName()])
			}
			continue
		}
		c.define(in.GetName(), declaredShape(in))
	}
}

func (c *checker) node(n *onnx.NodeProto) {
	if n.GetOpType() == "" {
		c.fail(ErrInvalid, "node %q has no operator", n.GetName())
	}

	in := make([]shape, len(n.GetInput()))
	for i, name := range n.GetInput() {
		// An empty name stands for an optional input that is left out.
		if name == "" {
			continue
		}
		s, ok := c.shapes[name]
		if !ok {
			c.fail(ErrDangling, "node %q (%s) reads %q, which is not defined before it",
				n.GetName(), n.GetOpType(), name)
		}
		in[i] = s
	}

	out, err := c.infer(n, in)
	if err != nil {
		c.fail(ErrShapeMismatch, "node %q (%s): %v", n.GetName(), n.GetOpType(), err)
	}
	for i, name := range n.GetOutput() {
		if name == "" {
			continue
		}
		var s shape
		if i < len(out) {
			s = out[i]
		}
		c.define(name, s)
	}
}

func (c *checker) outputs(outs []*onnx.ValueInfoProto) {
	for _, o := range outs {
		got, ok := c.shapes[o.GetName()]
		if !ok {
			c.fail(ErrDangling, "graph output %q is never produced", o.GetName())
			continue
		}
		if want := declaredShape(o); !want.compatible(got) {
			c.fail(ErrShapeMismatch, "graph output %q is declared %v but computed as %v",
				o.GetName(), want, got)
		}
	}
}

// elementCount returns how many values an initializer stores, when its type is one
// whose storage Check can count and its data is held in the file.
func elementCount(t *onnx.TensorProto) (int64, bool) {
	if t.GetDataLocation() == onnx.TensorProto_EXTERNAL {
		return 0, false
	}
	if raw := t.GetRawData(); len(raw) > 0 {
		size, ok := rawElementSize[onnx.TensorProto_DataType(t.GetDataType())]
		return int64(len(raw)) / size, ok
	}

	switch onnx.TensorProto_DataType(t.GetDataType()) {
	case onnx.TensorProto_FLOAT:
		return int64(len(t.GetFloatData())), true
	case onnx.TensorProto_DOUBLE:
		return int64(len(t.GetDoubleData())), true
	case onnx.TensorProto_INT64:
		return int64(len(t.GetInt64Data())), true
	case onnx.TensorProto_INT32, onnx.TensorProto_INT16, onnx.TensorProto_INT8,
		onnx.TensorProto_UINT16, onnx.TensorProto_UINT8, onnx.TensorProto_BOOL:
		return int64(len(t.GetInt32Data())), true
	case onnx.TensorProto_UINT32, onnx.TensorProto_UINT64:
		return int64(len(t.GetUint64Data())), true
	}
	return 0, false
}

var rawElementSize = map[onnx.TensorProto_DataType]int64{
	onnx.TensorProto_FLOAT: 4, onnx.TensorProto_DOUBLE: 8, onnx.TensorProto_INT64: 8,
	onnx.TensorProto_INT32: 4, onnx.TensorProto_INT16: 2, onnx.TensorProto_INT8: 1,
	onnx.TensorProto_UINT64: 8, onnx.TensorProto_UINT32: 4, onnx.TensorProto_UINT16: 2,
	onnx.TensorProto_UINT8: 1, onnx.TensorProto_BOOL: 1, onnx.TensorProto_FLOAT16: 2,
	onnx.TensorProto_BFLOAT16: 2,
}

// declaredShape reads a value's declared tensor shape; nil when it declares none.
func declaredShape(v *onnx.ValueInfoProto) shape {
	t := v.GetType().GetTensorType()
	if t == nil || t.GetShape() == nil {
		return nil
	}
	s := make(shape, len(t.GetShape().GetDim()))
	for i, d := range t.GetShape().GetDim() {
		s[i] = unknownDim
		if dv, ok := d.GetValue().(*onnx.TensorShapeProto_Dimension_DimValue); ok {
			s[i] = dv.DimValue
		}
	}
	return s
}
