package training

import (
	"encoding/json"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/evaluation/drift"
)

// referenceProfile summarises the training rows of a family for drift reports: one
// column per input feature, as the server gathers it (NaN where missing), and one
// per model output, as the fitted model predicts it on those rows. It returns the
// profile's JSON, which is deterministic for the same rows and model.
func referenceProfile(m *Model, train *Dataset) ([]byte, error) {
	cols := make([]drift.Column, 0, len(m.Family.Features)+len(m.Family.Outputs))
	for j, name := range m.Family.Features {
		cols = append(cols, drift.Column{Name: name, Values: mat.Col(nil, j, train.X)})
	}
	pred := m.Predict(train.X)
	for j, o := range m.Family.Outputs {
		cols = append(cols, drift.Column{Name: o.Name, Values: mat.Col(nil, j, pred)})
	}
	p, err := drift.BuildProfile(cols, drift.ProfileOptions{})
	if err != nil {
		return nil, fmt.Errorf("reference profile of %s: %w", m.Family.Name, err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("reference profile of %s: %w", m.Family.Name, err)
	}
	return data, nil
}
