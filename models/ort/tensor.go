package ort

import (
	"fmt"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// ElementType is the type of a tensor's elements. Its values are those of the ONNX
// TensorProto.DataType enumeration.
type ElementType int

// Element types. Run accepts and returns Float32, Float64, Int32, Int64 and Bool; a
// session may report the others for models it cannot run.
const (
	Undefined ElementType = 0
	Float32   ElementType = 1
	Uint8     ElementType = 2
	Int8      ElementType = 3
	Uint16    ElementType = 4
	Int16     ElementType = 5
	Int32     ElementType = 6
	Int64     ElementType = 7
	String    ElementType = 8
	Bool      ElementType = 9
	Float16   ElementType = 10
	Float64   ElementType = 11
	Uint32    ElementType = 12
	Uint64    ElementType = 13
	BFloat16  ElementType = 16
)

var elementTypeNames = map[ElementType]string{
	Undefined: "undefined", Float32: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64", String: "string",
	Bool: "bool", Float16: "float16", Float64: "float64", Uint32: "uint32",
	Uint64: "uint64", BFloat16: "bfloat16",
}

// String returns the type's name in Go spelling, such as "float32".
func (t ElementType) String() string {
	if n, ok := elementTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("ElementType(%d)", int(t))
}

// TensorInfo describes one input or output of a model.
type TensorInfo struct {
	// Name is the tensor's name in the model.
	Name string

	// Type is the element type; Undefined for values that are not tensors (sequences
	// and maps), which Run cannot pass.
	Type ElementType

	// Shape holds the dimensions, -1 for one whose size is chosen at run time, such
	// as the batch.
	Shape []int64
}

// Tensor is a dense tensor passed to or returned by Session.Run.
type Tensor struct {
	// Shape holds the dimensions; every one must be at least 1.
	Shape []int64

	// Data holds the elements in row-major order: a []float32, []float64, []int32,
	// []int64 or []bool with as many elements as Shape asks for.
	Data any
}

// Type returns the element type of t.Data, or Undefined if Run cannot pass it.
func (t Tensor) Type() ElementType {
	switch t.Data.(type) {
	case []float32:
		return Float32
	case []float64:
		return Float64
	case []int32:
		return Int32
	case []int64:
		return Int64
	case []bool:
		return Bool
	}
	return Undefined
}

func (t Tensor) len() int {
	switch d := t.Data.(type) {
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
	return 0
}

// value wraps the tensor's own memory in a runtime value, without copying it.
func (t Tensor) value() (onnxruntime.Value, error) {
	shape := onnxruntime.NewShape(t.Shape...)
	switch d := t.Data.(type) {
	case []float32:
		return onnxruntime.NewTensor(shape, d)
	case []float64:
		return onnxruntime.NewTensor(shape, d)
	case []int32:
		return onnxruntime.NewTensor(shape, d)
	case []int64:
		return onnxruntime.NewTensor(shape, d)
	case []bool:
		return onnxruntime.NewTensor(shape, d)
	}
	return nil, fmt.Errorf("%w: element type %T", ErrUnsupported, t.Data)
}

// tensorFrom copies a value the runtime returned into a Tensor.
func tensorFrom(v onnxruntime.Value) (Tensor, error) {
	t := Tensor{Shape: v.GetShape()}
	switch x := v.(type) {
	case *onnxruntime.Tensor[float32]:
		t.Data = x.GetData()
	case *onnxruntime.Tensor[float64]:
		t.Data = x.GetData()
	case *onnxruntime.Tensor[int32]:
		t.Data = x.GetData()
	case *onnxruntime.Tensor[int64]:
		t.Data = x.GetData()
	case *onnxruntime.Tensor[bool]:
		t.Data = x.GetData()
	default:
		return Tensor{}, fmt.Errorf("%w: output of %s %s", ErrUnsupported,
			v.GetONNXType(), ElementType(v.DataType()))
	}
	return t, nil
}
