package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/registry"
)

// ProductionComparison is the version now in production scored on the candidate's
// held-out rows.
type ProductionComparison struct {
	Version int `json:"version"`
	// Outputs holds, per regression output in the family's order, the production
	// version's metrics; empty for the anomaly family.
	Outputs []RegressionMetrics `json:"outputs,omitempty"`
	// Detection holds the production version's alarms at its own threshold.
	Detection *DetectionMetrics `json:"detection,omitempty"`
	// Error says why the version could not be scored, for example because it reads
	// a feature the dataset lacks; empty when it was.
	Error string `json:"error,omitempty"`
}

// productionVersion returns the version alias points at, nil without one.
func productionVersion(ctx context.Context, reg *registry.Registry, family,
	alias string) (*registry.Version, error) {
	v, err := reg.Resolve(ctx, family, alias)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve %s %s: %w", family, alias, err)
	}
	return &v, nil
}

// compareProduction scores the production version v on the rows of test the way a
// server would run it: features by the names in its signature, missing ones
// imputed from its tag. A version that cannot be scored gives a comparison whose
// Error says why; only a failure to read the registry is an error.
func compareProduction(ctx context.Context, reg *registry.Registry, v *registry.Version,
	test *Dataset) (*ProductionComparison, error) {
	pc := &ProductionComparison{Version: v.Number}
	data, err := reg.Artifact(ctx, *v)
	if err != nil {
		return nil, fmt.Errorf("read %s v%d: %w", v.Model, v.Number, err)
	}
	pred, err := runVersion(ctx, v, data, test)
	if err != nil {
		pc.Error = err.Error()
		return pc, nil
	}

	if test.Family.Name == models.Anomaly {
		th, err := strconv.ParseFloat(v.Tags[models.TagThreshold], 64)
		if err != nil {
			pc.Error = "no usable threshold tag"
			return pc, nil
		}
		d := Detect(mat.Col(nil, 0, pred), mat.Col(nil, 0, test.Y), test.When, th,
			anomalyEvery)
		pc.Detection = &d
		return pc, nil
	}
	_, labels := test.Y.Dims()
	for j := range labels {
		pc.Outputs = append(pc.Outputs, Regress(mat.Col(nil, j, test.Y),
			mat.Col(nil, j, pred)))
	}
	return pc, nil
}

// runVersion runs the ONNX file data of version v on the rows of d and returns one
// column per family output.
func runVersion(ctx context.Context, v *registry.Version, data []byte, d *Dataset) (
	*mat.Dense, error) {
	if len(v.Signature.Inputs) != 1 {
		return nil, fmt.Errorf("signature has %d inputs, want 1", len(v.Signature.Inputs))
	}
	names := v.Signature.Inputs[0].Features
	cols := make([]int, len(names))
	for k, name := range names {
		cols[k] = slices.Index(d.Family.Features, name)
		if cols[k] < 0 {
			return nil, fmt.Errorf("version reads feature %s, which the dataset lacks", name)
		}
	}
	impute := make([]float64, len(names))
	if s, ok := v.Tags[models.TagImpute]; ok {
		if err := json.Unmarshal([]byte(s), &impute); err != nil ||
			len(impute) != len(names) {
			return nil, fmt.Errorf("tag %s: want %d numbers", models.TagImpute, len(names))
		}
	}

	n := d.Rows()
	x := make([]float32, n*len(names))
	for i := range n {
		for k, c := range cols {
			val := d.X.At(i, c)
			if math.IsNaN(val) {
				val = impute[k]
			}
			x[i*len(names)+k] = float32(val)
		}
	}
	sess, err := ort.NewSession(data, ort.Options{})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	outs, err := sess.Run(ctx, []ort.Tensor{{Shape: []int64{int64(n),
		int64(len(names))}, Data: x}})
	if err != nil {
		return nil, err
	}

	pred := mat.NewDense(n, len(d.Family.Outputs), nil)
	for j, o := range d.Family.Outputs {
		col, err := outputColumn(sess.Outputs(), outs, o.Name, n)
		if err != nil {
			return nil, err
		}
		for i, p := range col {
			pred.Set(i, j, float64(p))
		}
	}
	return pred, nil
}
