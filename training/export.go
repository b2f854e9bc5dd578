package training

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/hydrocast/hydrocast/models/ort"
)

// ErrExportMismatch means ONNX Runtime's outputs of an exported model differ from the
// Go model's by more than ExportTolerance.
var ErrExportMismatch = errors.New("exported model disagrees with the fitted one")

// ExportTolerance is how far ONNX Runtime's float32 output may lie from the Go
// model's float64 one: absolute up to 1, relative to the value above.
const ExportTolerance = 1e-5

// ExportCheck summarises the comparison of an exported graph with its Go model.
type ExportCheck struct {
	Rows int `json:"rows"`
	// MaxDiff is the largest |ORT − Go| over every row and output, in output units.
	MaxDiff float64 `json:"max_abs_diff"`
}

// CheckExport runs the ONNX file data with ONNX Runtime (Init must have succeeded)
// on the rows of x (raw features, NaN where missing) and compares every output with
// m.Predict. It fails with ErrExportMismatch when one differs by more than
// ExportTolerance.
func CheckExport(ctx context.Context, m *Model, data []byte, rowsX *Dataset) (
	ExportCheck, error) {
	sess, err := ort.NewSession(data, ort.Options{})
	if err != nil {
		return ExportCheck{}, fmt.Errorf("check export of %s: %w", m.Family.Name, err)
	}
	defer sess.Close()

	in := m.Inputs(rowsX.X)
	n, k := in.Dims()
	x := float32s(in.RawMatrix().Data)
	outs, err := sess.Run(ctx, []ort.Tensor{{Shape: []int64{int64(n), int64(k)}, Data: x}})
	if err != nil {
		return ExportCheck{}, fmt.Errorf("check export of %s: run: %w", m.Family.Name, err)
	}

	want := m.Predict(rowsX.X)
	check := ExportCheck{Rows: n}
	for j, o := range m.Family.Outputs {
		got, err := outputColumn(sess.Outputs(), outs, o.Name, n)
		if err != nil {
			return check, fmt.Errorf("check export of %s: %w", m.Family.Name, err)
		}
		for i := range n {
			ref := want.At(i, j)
			d := math.Abs(float64(got[i]) - ref)
			check.MaxDiff = math.Max(check.MaxDiff, d)
			if !(d <= ExportTolerance*math.Max(1, math.Abs(ref))) {
				return check, fmt.Errorf("check export of %s: %w: %s row %d: runtime %v, "+
					"Go %v", m.Family.Name, ErrExportMismatch, o.Name, i, got[i], ref)
			}
		}
	}
	return check, nil
}

// outputColumn returns the named [n, 1] output of a run.
func outputColumn(infos []ort.TensorInfo, outs []ort.Tensor, name string, n int) (
	[]float32, error) {
	for i, info := range infos {
		if info.Name != name {
			continue
		}
		v, ok := outs[i].Data.([]float32)
		if !ok || len(v) != n {
			return nil, fmt.Errorf("output %s is not %d float32 values", name, n)
		}
		return v, nil
	}
	return nil, fmt.Errorf("graph has no output %s", name)
}
