package oip

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hydrocast/hydrocast/models/ort"
)

// jsonPayload is an input's "data" in a REST request: its elements in row-major
// order, as one flat array or as arrays nested any way.
type jsonPayload json.RawMessage

func (p jsonPayload) decode(t ort.ElementType, n int) (any, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("no data")
	}
	// Numbers are read as text, so that an INT64 beyond 2^53 keeps every digit.
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("read data: %v", err)
	}

	if _, ok := tree.(map[string]any); ok {
		return nil, fmt.Errorf("data is an object; want the values in an array, " +
			"flat or nested, in row-major order")
	}
	leaves := flatten(tree, nil)
	if len(leaves) != n {
		return nil, fmt.Errorf("%d values in data, the shape needs %d", len(leaves), n)
	}
	return convertJSON(t, leaves)
}

// flatten appends the leaves of nested arrays to out in row-major order.
func flatten(v any, out []any) []any {
	a, ok := v.([]any)
	if !ok {
		return append(out, v)
	}
	for _, x := range a {
		out = flatten(x, out)
	}
	return out
}

// convertJSON turns decoded JSON values into the slice for element type t.
func convertJSON(t ort.ElementType, leaves []any) (any, error) {
	switch t {
	case ort.Float32:
		return convertEach(leaves, "FP32", func(s string) (float32, error) {
			f, err := strconv.ParseFloat(s, 32)
			return float32(f), err
		})
	case ort.Float64:
		return convertEach(leaves, "FP64", func(s string) (float64, error) {
			return strconv.ParseFloat(s, 64)
		})
	case ort.Int32:
		return convertEach(leaves, "INT32", func(s string) (int32, error) {
			i, err := strconv.ParseInt(s, 10, 32)
			return int32(i), err
		})
	case ort.Int64:
		return convertEach(leaves, "INT64", func(s string) (int64, error) {
			return strconv.ParseInt(s, 10, 64)
		})
	case ort.Bool:
		out := make([]bool, len(leaves))
		for i, v := range leaves {
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("element %d is %s, not true or false", i, jsonKind(v))
			}
			out[i] = b
		}
		return out, nil
	}
	return nil, fmt.Errorf("no JSON decoding for %s", t)
}

// convertEach parses every leaf, which must be a JSON number, with parse into
// elements of the named datatype.
func convertEach[T any](leaves []any, datatype string,
	parse func(string) (T, error)) ([]T, error) {
	out := make([]T, len(leaves))
	for i, v := range leaves {
		num, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("element %d is %s, not a number", i, jsonKind(v))
		}
		x, err := parse(string(num))
		if err != nil {
			return nil, fmt.Errorf("element %d: %s is not a %s value", i, num, datatype)
		}
		out[i] = x
	}
	return out, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
