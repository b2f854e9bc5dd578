package batch

import (
	"fmt"
	"slices"

	"github.com/hydrocast/hydrocast/models/ort"
)

// compatible reports whether two calls' inputs can share a run: the same number of
// inputs, each of the same element type and the same dimensions after the first.
func compatible(a, b []ort.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type() != b[i].Type() || !slices.Equal(a[i].Shape[1:], b[i].Shape[1:]) {
			return false
		}
	}
	return true
}

// concatCalls joins the calls' inputs along the first dimension and returns them with
// the total row count.
func concatCalls(calls []*call) ([]ort.Tensor, int, error) {
	rows := 0
	for _, c := range calls {
		rows += c.rows
	}
	first := calls[0].inputs
	joined := make([]ort.Tensor, len(first))
	parts := make([]any, len(calls))
	for i, t := range first {
		for k, c := range calls {
			parts[k] = c.inputs[i].Data
		}
		data, err := concat(parts)
		if err != nil {
			return nil, 0, fmt.Errorf("batch input %d: %w", i, err)
		}
		shape := slices.Clone(t.Shape)
		shape[0] = int64(rows)
		joined[i] = ort.Tensor{Shape: shape, Data: data}
	}
	return joined, rows, nil
}

// concat joins slices of one element type.
func concat(parts []any) (any, error) {
	switch parts[0].(type) {
	case []float32:
		return join[float32](parts)
	case []float64:
		return join[float64](parts)
	case []int32:
		return join[int32](parts)
	case []int64:
		return join[int64](parts)
	case []bool:
		return join[bool](parts)
	}
	return nil, fmt.Errorf("cannot batch %T", parts[0])
}

func join[T any](parts []any) ([]T, error) {
	n := 0
	for _, p := range parts {
		s, ok := p.([]T)
		if !ok {
			return nil, fmt.Errorf("cannot join %T with %T", parts[0], p)
		}
		n += len(s)
	}
	out := make([]T, 0, n)
	for _, p := range parts {
		out = append(out, p.([]T)...)
	}
	return out, nil
}

// splitOutputs cuts every output into each call's rows, in call order.
func splitOutputs(outs []ort.Tensor, calls []*call, rows int) ([][]ort.Tensor, error) {
	parts := make([][]ort.Tensor, len(calls))
	for k := range parts {
		parts[k] = make([]ort.Tensor, len(outs))
	}
	for i, t := range outs {
		if len(t.Shape) == 0 || t.Shape[0] != int64(rows) {
			return nil, fmt.Errorf("%w: output %d has shape %v for a batch of %d rows",
				ErrBadOutput, i, t.Shape, rows)
		}
		width := 1
		for _, d := range t.Shape[1:] {
			width *= int(d)
		}
		from := 0
		for k, c := range calls {
			to := from + c.rows*width
			data, err := rowRange(t.Data, from, to)
			if err != nil {
				return nil, fmt.Errorf("%w: output %d: %w", ErrBadOutput, i, err)
			}
			shape := slices.Clone(t.Shape)
			shape[0] = int64(c.rows)
			parts[k][i] = ort.Tensor{Shape: shape, Data: data}
			from = to
		}
	}
	return parts, nil
}

// rowRange returns data[from:to] of a tensor's slice, capped so that an append by a
// caller cannot reach the next caller's rows.
func rowRange(data any, from, to int) (any, error) {
	switch d := data.(type) {
	case []float32:
		return cut(d, from, to)
	case []float64:
		return cut(d, from, to)
	case []int32:
		return cut(d, from, to)
	case []int64:
		return cut(d, from, to)
	case []bool:
		return cut(d, from, to)
	}
	return nil, fmt.Errorf("cannot split %T", data)
}

func cut[T any](d []T, from, to int) (any, error) {
	if to > len(d) {
		return nil, fmt.Errorf("%d values, the shape needs %d", len(d), to)
	}
	return d[from:to:to], nil
}
