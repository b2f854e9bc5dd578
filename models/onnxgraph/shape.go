package onnxgraph

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/advancedclimatesystems/gonnx/onnx"
)

// unknownDim is a dimension whose size is only known when the model runs.
const unknownDim = -1

// shape is a tensor shape as far as it is known before running: nil when even the rank
// is unknown, unknownDim for a dimension of unknown size.
type shape []int64

func (s shape) known() bool {
	if s == nil {
		return false
	}
	for _, d := range s {
		if d < 0 {
			return false
		}
	}
	return true
}

func (s shape) size() int64 {
	n := int64(1)
	for _, d := range s {
		n *= d
	}
	return n
}

// compatible reports whether two partly known shapes can describe the same tensor.
func (s shape) compatible(t shape) bool {
	if s == nil || t == nil {
		return true
	}
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if conflict(s[i], t[i]) {
			return false
		}
	}
	return true
}

func (s shape) String() string {
	if s == nil {
		return "[unknown rank]"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = "?"
		if d >= 0 {
			parts[i] = strconv.FormatInt(d, 10)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// conflict reports whether two dimensions are known and differ.
func conflict(a, b int64) bool {
	return a >= 0 && b >= 0 && a != b
}

// infer returns the output shapes of a node from its input shapes, or an error when
// the inputs cannot be combined. Operators it does not know give nil shapes.
func (c *checker) infer(n *onnx.NodeProto, in []shape) ([]shape, error) {
	switch n.GetOpType() {
	case "Identity", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Neg", "Abs", "Sqrt",
		"Softplus", "Clip":
		return []shape{arg(in, 0)}, nil
	case "Add", "Sub", "Mul", "Div":
		s, err := broadcast(arg(in, 0), arg(in, 1))
		return []shape{s}, err
	case "MatMul":
		s, err := matMul(arg(in, 0), arg(in, 1))
		return []shape{s}, err
	case "Gemm":
		s, err := gemm(n, in)
		return []shape{s}, err
	case "Split":
		return c.split(n, in)
	}
	return nil, nil
}

func arg(in []shape, i int) shape {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// broadcast combines two shapes by the multidirectional (NumPy) broadcasting rule.
func broadcast(a, b shape) (shape, error) {
	if a == nil || b == nil {
		return nil, nil
	}
	out := make(shape, max(len(a), len(b)))
	for i := range out {
		x, y := dimFromEnd(a, len(out)-1-i), dimFromEnd(b, len(out)-1-i)
		switch {
		case x == 1:
			out[i] = y
		case y == 1:
			out[i] = x
		case x == y:
			out[i] = x
		case x < 0:
			// An unknown size must be 1 or y at run time; either way the result is y.
			out[i] = y
		case y < 0:
			out[i] = x
		default:
			return nil, fmt.Errorf("cannot broadcast %v with %v", a, b)
		}
	}
	return out, nil
}

// dimFromEnd returns the dimension i places from the end, 1 past the rank.
func dimFromEnd(s shape, i int) int64 {
	if i >= len(s) {
		return 1
	}
	return s[len(s)-1-i]
}

func matMul(a, b shape) (shape, error) {
	if a == nil || b == nil {
		return nil, nil
	}
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("MatMul of a scalar: %v × %v", a, b)
	}

	// A vector operand is a matrix with its missing dimension dropped from the result.
	switch {
	case len(b) == 1:
		if conflict(a[len(a)-1], b[0]) {
			return nil, fmt.Errorf("cannot multiply %v by %v", a, b)
		}
		return append(shape{}, a[:len(a)-1]...), nil
	case len(a) == 1:
		if conflict(a[0], b[len(b)-2]) {
			return nil, fmt.Errorf("cannot multiply %v by %v", a, b)
		}
		return append(append(shape{}, b[:len(b)-2]...), b[len(b)-1]), nil
	}

	if conflict(a[len(a)-1], b[len(b)-2]) {
		return nil, fmt.Errorf("cannot multiply %v by %v", a, b)
	}
	batch, err := broadcast(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, err
	}
	return append(batch, a[len(a)-2], b[len(b)-1]), nil
}

// gemm checks Y = A'·B' + C, where ' is an optional transpose and C broadcasts one
// way to the result.
func gemm(n *onnx.NodeProto, in []shape) (shape, error) {
	a, b, cc := arg(in, 0), arg(in, 1), arg(in, 2)
	if a == nil || b == nil {
		return nil, nil
	}
	if len(a) != 2 || len(b) != 2 {
		return nil, fmt.Errorf("Gemm needs matrices, got %v and %v", a, b)
	}

	m, k := a[0], a[1]
	if intAttr(n, "transA", 0) != 0 {
		m, k = k, m
	}
	kb, cols := b[0], b[1]
	if intAttr(n, "transB", 0) != 0 {
		kb, cols = cols, kb
	}
	if conflict(k, kb) {
		return nil, fmt.Errorf("cannot multiply %v by %v", a, b)
	}

	out := shape{m, cols}
	if cc != nil {
		got, err := broadcast(cc, out)
		if err != nil || len(cc) > 2 || !got.compatible(out) {
			return nil, fmt.Errorf("bias %v does not broadcast to %v", cc, out)
		}
	}
	return out, nil
}

// split checks Split (opset 13, sizes as an optional second input; earlier opsets,
// sizes as an attribute).
func (c *checker) split(n *onnx.NodeProto, in []shape) ([]shape, error) {
	x := arg(in, 0)
	parts := len(n.GetOutput())
	if x == nil || parts == 0 {
		return nil, nil
	}
	axis := intAttr(n, "axis", 0)
	if axis < 0 {
		axis += int64(len(x))
	}
	if axis < 0 || axis >= int64(len(x)) {
		return nil, fmt.Errorf("axis %d is outside %v", intAttr(n, "axis", 0), x)
	}

	sizes := c.splitSizes(n)
	if sizes == nil {
		sizes = make([]int64, parts)
		for i := range sizes {
			sizes[i] = unknownDim
		}
		if d := x[axis]; d >= 0 {
			if d%int64(parts) != 0 {
				return nil, fmt.Errorf("%d cannot split into %d equal parts", d, parts)
			}
			for i := range sizes {
				sizes[i] = d / int64(parts)
			}
		}
	}
	if len(sizes) != parts {
		return nil, fmt.Errorf("%d split sizes for %d outputs", len(sizes), parts)
	}

	var sum int64
	out := make([]shape, parts)
	for i, size := range sizes {
		sum += size
		out[i] = append(shape{}, x...)
		out[i][axis] = size
	}
	if x[axis] >= 0 && sizes[0] >= 0 && sum != x[axis] {
		return nil, fmt.Errorf("split sizes %v do not add up to %d", sizes, x[axis])
	}
	return out, nil
}

// splitSizes returns explicit split sizes from the second input's initializer or the
// split attribute; nil when there are none or they are only known at run time.
func (c *checker) splitSizes(n *onnx.NodeProto) []int64 {
	if len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
		if t, ok := c.inits[n.GetInput()[1]]; ok {
			return int64Values(t)
		}
		return nil
	}
	for _, a := range n.GetAttribute() {
		if a.GetName() == "split" {
			return a.GetInts()
		}
	}
	return nil
}

// int64Values returns an int64 initializer's values from whichever field holds them.
func int64Values(t *onnx.TensorProto) []int64 {
	if onnx.TensorProto_DataType(t.GetDataType()) != onnx.TensorProto_INT64 {
		return nil
	}
	raw := t.GetRawData()
	if len(raw) == 0 {
		return t.GetInt64Data()
	}
	v := make([]int64, len(raw)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return v
}

func intAttr(n *onnx.NodeProto, name string, def int64) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return def
}
