package inference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/registry"
)

// Tags a trainer sets on a version that the server reads.
const (
	// TagImpute holds a JSON array with, per input column, the value that stands in
	// for a missing feature (the training mean).
	TagImpute = "impute"
	// TagThreshold holds the anomaly score from which an anomaly alert is raised.
	TagThreshold = "threshold"
)

// ErrNoProductionModel means the registry has no version of a family under the alias
// the server serves.
var ErrNoProductionModel = errors.New("no production model")

// LoadedModel is one model version in an ONNX Runtime session, ready to run on
// feature vectors.
type LoadedModel struct {
	Family  models.Family
	Version registry.Version

	session *ort.Session
	// featureIdx holds, per input column, the feature's position in the schema.
	featureIdx []int
	// impute holds, per input column, the value used when the feature is missing.
	impute []float32
	// outputIdx maps each family output to its position among the session's outputs.
	outputIdx map[string]int
}

// VersionString returns the version number as the API reports it.
func (m *LoadedModel) VersionString() string { return strconv.Itoa(m.Version.Number) }

// Session returns the model's ONNX Runtime session.
func (m *LoadedModel) Session() *ort.Session { return m.session }

// Close frees the model's session.
func (m *LoadedModel) Close() error { return m.session.Close() }

// LoadModel loads one registry version of a family into an ONNX Runtime session,
// checks that its signature and graph agree with the family's contract, and warms it
// up with one run.
func LoadModel(ctx context.Context, reg *registry.Registry, fam models.Family,
	v registry.Version, opts ort.Options) (*LoadedModel, error) {
	data, err := reg.Artifact(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("load %s v%d: %w", fam.Name, v.Number, err)
	}
	sess, err := ort.NewSession(data, opts)
	if err != nil {
		return nil, fmt.Errorf("load %s v%d: %w", fam.Name, v.Number, err)
	}
	m, err := bindModel(fam, v, sess)
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("load %s v%d: %w", fam.Name, v.Number, err)
	}
	if err := m.warmUp(ctx); err != nil {
		sess.Close()
		return nil, fmt.Errorf("warm up %s v%d: %w", fam.Name, v.Number, err)
	}
	return m, nil
}

// bindModel resolves the version's input features against the feature schema and its
// outputs against the family's.
func bindModel(fam models.Family, v registry.Version, sess *ort.Session) (*LoadedModel, error) {
	if len(v.Signature.Inputs) != 1 {
		return nil, fmt.Errorf("signature has %d inputs, want 1", len(v.Signature.Inputs))
	}
	names := v.Signature.Inputs[0].Features
	idx, err := features.CurrentSchema().Indices(names)
	if err != nil {
		return nil, fmt.Errorf("signature features: %w", err)
	}
	ins := sess.Inputs()
	if len(ins) != 1 || len(ins[0].Shape) != 2 || ins[0].Shape[1] != int64(len(names)) {
		return nil, fmt.Errorf("graph input %v does not take %d features", ins, len(names))
	}

	m := &LoadedModel{Family: fam, Version: v, session: sess, featureIdx: idx,
		outputIdx: make(map[string]int)}
	for _, o := range fam.Outputs {
		i := outputPosition(sess.Outputs(), o.Name)
		if i < 0 {
			return nil, fmt.Errorf("graph has no output %q", o.Name)
		}
		m.outputIdx[o.Name] = i
	}

	m.impute = make([]float32, len(names))
	if s, ok := v.Tags[TagImpute]; ok {
		var vals []float32
		if err := json.Unmarshal([]byte(s), &vals); err != nil || len(vals) != len(names) {
			return nil, fmt.Errorf("tag %s: want %d numbers", TagImpute, len(names))
		}
		copy(m.impute, vals)
	}
	return m, nil
}

func outputPosition(outs []ort.TensorInfo, name string) int {
	for i, o := range outs {
		if o.Name == name {
			return i
		}
	}
	return -1
}

// warmUp runs the model once on its impute vector, so that the first real request
// does not pay for the runtime's lazy initialisation.
func (m *LoadedModel) warmUp(ctx context.Context) error {
	out := make([][]float32, len(m.session.Outputs()))
	return m.session.RunFloat32(ctx, m.impute, out)
}

// input fills row with the model's input columns from v, imputing missing features,
// and returns the names of the columns that were not present with their status.
func (m *LoadedModel) input(v *features.Vector, row []float32) map[string]string {
	var status map[string]string
	for _, k := range features.Gather(v, m.featureIdx, row) {
		i := m.featureIdx[k]
		if v.Status[i] == features.StatusMissing || math.IsNaN(float64(row[k])) {
			row[k] = m.impute[k]
		}
		if status == nil {
			status = make(map[string]string)
		}
		status[m.Version.Signature.Inputs[0].Features[k]] = v.Status[i].String()
	}
	return status
}

// threshold returns the version's anomaly threshold tag, or def without one.
func (m *LoadedModel) threshold(def float64) float64 {
	if s, ok := m.Version.Tags[TagThreshold]; ok {
		if t, err := strconv.ParseFloat(s, 64); err == nil {
			return t
		}
	}
	return def
}
