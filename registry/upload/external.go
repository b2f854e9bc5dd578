package upload

import (
	"fmt"
	"math"
	"math/bits"
	"path"
	"strconv"
	"strings"

	"github.com/advancedclimatesystems/gonnx/onnx"
)

// inlineExternalData replaces every external data reference of the model with the
// bytes it names, so that the stored artifact is one self-contained file that a
// server loads without touching any other. References are honoured only for files
// that arrived in the same archive, inside the model's folder.
func inlineExternalData(m *onnx.ModelProto, b bundle, limit int64) error {
	return eachTensor(m, func(t *onnx.TensorProto) error {
		if err := checkDeclaredSize(t, limit); err != nil {
			return err
		}
		if t.GetDataLocation() != onnx.TensorProto_EXTERNAL && len(t.GetExternalData()) == 0 {
			return nil
		}
		if !b.archived {
			return invalid("tensor %q keeps its data in another file; upload the model "+
				"with its data files in one zip or tar archive", t.GetName())
		}

		ref, err := readReference(t)
		if err != nil {
			return err
		}
		name, err := resolve(b.model, ref.location)
		if err != nil {
			return invalid("tensor %q: %v", t.GetName(), err)
		}
		data, ok := b.files[name]
		if !ok {
			return invalid("tensor %q: external data file %q is not in the archive",
				t.GetName(), ref.location)
		}
		if ref.length < 0 {
			ref.length = int64(len(data)) - ref.offset
		}
		if ref.offset > int64(len(data)) || ref.length < 0 ||
			ref.length > int64(len(data))-ref.offset {
			return invalid("tensor %q: bytes %d to %d of %q, which holds %d",
				t.GetName(), ref.offset, ref.offset+ref.length, ref.location, len(data))
		}

		t.RawData = data[ref.offset : ref.offset+ref.length]
		t.ExternalData = nil
		t.DataLocation = onnx.TensorProto_DEFAULT
		return nil
	})
}

// reference is where a tensor's external data lives.
type reference struct {
	location       string
	offset, length int64 // length -1: to the end of the file
}

func readReference(t *onnx.TensorProto) (reference, error) {
	ref := reference{length: -1}
	for _, e := range t.GetExternalData() {
		var err error
		switch e.GetKey() {
		case "location":
			ref.location = e.GetValue()
		case "offset":
			ref.offset, err = strconv.ParseInt(e.GetValue(), 10, 64)
		case "length":
			ref.length, err = strconv.ParseInt(e.GetValue(), 10, 64)
		}
		if err != nil || ref.offset < 0 || (e.GetKey() == "length" && ref.length < 0) {
			return ref, invalid("tensor %q: external data %s %q is not a byte count",
				t.GetName(), e.GetKey(), e.GetValue())
		}
	}
	if ref.location == "" {
		return ref, invalid("tensor %q: external data without a location", t.GetName())
	}
	return ref, nil
}

// resolve returns the archive path of an external data location, which ONNX reads
// relative to the model file's folder. The location must be relative, clean and
// must not climb out of that folder.
func resolve(model, location string) (string, error) {
	switch {
	case strings.HasPrefix(location, "/"), len(location) > 1 && location[1] == ':':
		return "", fmt.Errorf("external data location %q is an absolute path", location)
	case strings.ContainsAny(location, "\\\x00"):
		return "", fmt.Errorf("external data location %q holds a backslash or NUL", location)
	}
	for _, elem := range strings.Split(location, "/") {
		if elem == ".." {
			return "", fmt.Errorf("external data location %q leaves the model's folder",
				location)
		}
	}
	if path.Clean(location) != location {
		return "", fmt.Errorf("external data location %q is not a clean path", location)
	}
	return path.Join(path.Dir(model), location), nil
}

// checkDeclaredSize refuses a tensor whose dimensions ask for more bytes than an
// upload may hold, before anything tries to allocate them.
func checkDeclaredSize(t *onnx.TensorProto, limit int64) error {
	width := elemWidth(onnx.TensorProto_DataType(t.GetDataType()))
	total := uint64(width)
	for _, d := range t.GetDims() {
		if d < 0 {
			return invalid("tensor %q: negative dimension %d", t.GetName(), d)
		}
		hi, lo := bits.Mul64(total, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			total = math.MaxUint64
			break
		}
		total = lo
	}
	if total > uint64(limit) {
		return invalid("tensor %q: dimensions %v ask for more than the %d bytes an "+
			"upload may hold", t.GetName(), t.GetDims(), limit)
	}
	return nil
}

// elemWidth returns the bytes per element of a type, at least 1 so that string
// and sub-byte types are still counted.
func elemWidth(t onnx.TensorProto_DataType) int {
	switch t {
	case onnx.TensorProto_DOUBLE, onnx.TensorProto_INT64, onnx.TensorProto_UINT64,
		onnx.TensorProto_COMPLEX64:
		return 8
	case onnx.TensorProto_COMPLEX128:
		return 16
	case onnx.TensorProto_FLOAT, onnx.TensorProto_INT32, onnx.TensorProto_UINT32:
		return 4
	case onnx.TensorProto_FLOAT16, onnx.TensorProto_BFLOAT16, onnx.TensorProto_INT16,
		onnx.TensorProto_UINT16:
		return 2
	}
	return 1
}

// eachTensor calls fn on every tensor the model holds: initializers, sparse
// initializers, and tensors in node attributes, in the main graph, its subgraphs
// and the model's functions.
func eachTensor(m *onnx.ModelProto, fn func(*onnx.TensorProto) error) error {
	if err := graphTensors(m.GetGraph(), fn); err != nil {
		return err
	}
	for _, f := range m.GetFunctions() {
		if err := nodeTensors(f.GetNode(), fn); err != nil {
			return err
		}
	}
	return nil
}

func graphTensors(g *onnx.GraphProto, fn func(*onnx.TensorProto) error) error {
	if g == nil {
		return nil
	}
	for _, t := range g.GetInitializer() {
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := sparseTensors(g.GetSparseInitializer(), fn); err != nil {
		return err
	}
	return nodeTensors(g.GetNode(), fn)
}

func nodeTensors(nodes []*onnx.NodeProto, fn func(*onnx.TensorProto) error) error {
	for _, n := range nodes {
		for _, a := range n.GetAttribute() {
			tensors := append([]*onnx.TensorProto{a.GetT()}, a.GetTensors()...)
			for _, t := range tensors {
				if t == nil {
					continue
				}
				if err := fn(t); err != nil {
					return err
				}
			}
			sparse := append([]*onnx.SparseTensorProto{a.GetSparseTensor()},
				a.GetSparseTensors()...)
			if err := sparseTensors(sparse, fn); err != nil {
				return err
			}
			for _, g := range append([]*onnx.GraphProto{a.GetG()}, a.GetGraphs()...) {
				if err := graphTensors(g, fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func sparseTensors(sparse []*onnx.SparseTensorProto, fn func(*onnx.TensorProto) error) error {
	for _, s := range sparse {
		for _, t := range []*onnx.TensorProto{s.GetValues(), s.GetIndices()} {
			if t == nil {
				continue
			}
			if err := fn(t); err != nil {
				return err
			}
		}
	}
	return nil
}
