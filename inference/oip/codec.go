package oip

import (
	"encoding/binary"
	"fmt"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/models/ort"
)

// rawPayload is an input sent in raw_input_contents: little-endian, row-major.
type rawPayload []byte

func (p rawPayload) decode(t ort.ElementType, n int) (any, error) {
	size := int(elementSize[t])
	if len(p) != n*size {
		return nil, fmt.Errorf("%d raw bytes, the shape needs %d elements of %d bytes",
			len(p), n, size)
	}

	var data any
	switch t {
	case ort.Float32:
		data = make([]float32, n)
	case ort.Float64:
		data = make([]float64, n)
	case ort.Int32:
		data = make([]int32, n)
	case ort.Int64:
		data = make([]int64, n)
	case ort.Bool:
		// Any byte but 0 and 1 is more likely a sender's mistake than a truth value.
		for i, b := range p {
			if b > 1 {
				return nil, fmt.Errorf("raw byte %d is %d; BOOL elements are 0 or 1", i, b)
			}
		}
		data = make([]bool, n)
	default:
		return nil, fmt.Errorf("no raw decoding for %s", t)
	}
	if _, err := binary.Decode(p, binary.LittleEndian, data); err != nil {
		return nil, fmt.Errorf("decode raw contents: %w", err)
	}
	return data, nil
}

// contentsPayload is an input sent in the typed contents of its tensor.
type contentsPayload struct {
	contents *inferencepb.InferTensorContents
}

// fieldCount is one field of a contents message with how many values it holds.
type fieldCount struct {
	name string
	n    int
}

// contentFields lists a contents message's fields with how many values each holds,
// in an array rather than a slice so that every request does not allocate one.
func contentFields(c *inferencepb.InferTensorContents) [8]fieldCount {
	return [8]fieldCount{
		{"bool_contents", len(c.GetBoolContents())},
		{"int_contents", len(c.GetIntContents())},
		{"int64_contents", len(c.GetInt64Contents())},
		{"uint_contents", len(c.GetUintContents())},
		{"uint64_contents", len(c.GetUint64Contents())},
		{"fp32_contents", len(c.GetFp32Contents())},
		{"fp64_contents", len(c.GetFp64Contents())},
		{"bytes_contents", len(c.GetBytesContents())},
	}
}

// contentField names the field that carries each element type the server passes.
var contentField = map[ort.ElementType]string{
	ort.Bool: "bool_contents", ort.Int32: "int_contents", ort.Int64: "int64_contents",
	ort.Float32: "fp32_contents", ort.Float64: "fp64_contents",
}

// decode returns the matching field's values as they are: the request message is not
// changed while it is served, so they need no copy.
func (p contentsPayload) decode(t ort.ElementType, n int) (any, error) {
	want := contentField[t]
	for _, f := range contentFields(p.contents) {
		if f.n > 0 && f.name != want {
			return nil, fmt.Errorf("values in %s; datatype %s takes %s", f.name,
				Datatype(t), want)
		}
	}

	var data any
	var got int
	c := p.contents
	switch t {
	case ort.Float32:
		data, got = c.GetFp32Contents(), len(c.GetFp32Contents())
	case ort.Float64:
		data, got = c.GetFp64Contents(), len(c.GetFp64Contents())
	case ort.Int32:
		data, got = c.GetIntContents(), len(c.GetIntContents())
	case ort.Int64:
		data, got = c.GetInt64Contents(), len(c.GetInt64Contents())
	case ort.Bool:
		data, got = c.GetBoolContents(), len(c.GetBoolContents())
	default:
		return nil, fmt.Errorf("no typed contents for %s", t)
	}
	if got != n {
		return nil, fmt.Errorf("%d values in %s, the shape needs %d", got, want, n)
	}
	return data, nil
}

// hasContents reports whether an input carries any typed values.
func hasContents(c *inferencepb.InferTensorContents) bool {
	for _, f := range contentFields(c) {
		if f.n > 0 {
			return true
		}
	}
	return false
}

// rawBytes encodes a tensor's elements little-endian, as raw_output_contents holds
// them.
func rawBytes(t ort.Tensor) ([]byte, error) {
	return appendRaw(nil, t)
}

// appendRaw appends a tensor's elements to b, little-endian.
func appendRaw(b []byte, t ort.Tensor) ([]byte, error) {
	b, err := binary.Append(b, binary.LittleEndian, t.Data)
	if err != nil {
		return nil, fmt.Errorf("encode %T as raw bytes: %w", t.Data, err)
	}
	return b, nil
}

// setContents sets the field of c that holds the type of t's elements to them.
func setContents(c *inferencepb.InferTensorContents, t ort.Tensor) error {
	switch d := t.Data.(type) {
	case []float32:
		c.Fp32Contents = d
	case []float64:
		c.Fp64Contents = d
	case []int32:
		c.IntContents = d
	case []int64:
		c.Int64Contents = d
	case []bool:
		c.BoolContents = d
	default:
		return fmt.Errorf("no typed contents for %T", t.Data)
	}
	return nil
}

// tensorLen returns how many elements a tensor's data holds.
func tensorLen(data any) int {
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
	return 0
}
