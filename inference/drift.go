package inference

import (
	"math"
	"sync"

	"github.com/hydrocast/hydrocast/evaluation/drift"
	"github.com/hydrocast/hydrocast/features"
)

// DriftRecorder feeds the live drift sketches (see drift.Live) from the assess path:
// per model version, every input feature and every output. A nil *DriftRecorder
// records nothing, so a server without drift monitoring needs no branch.
type DriftRecorder struct {
	live *drift.Live

	mu      sync.RWMutex
	columns map[drift.Key][]string // guarded by mu; inputs then outputs, per version
}

// NewDriftRecorder returns a recorder writing into live.
func NewDriftRecorder(live *drift.Live) *DriftRecorder {
	return &DriftRecorder{live: live, columns: make(map[drift.Key][]string)}
}

// Record records one run of model m on feature vector v, at v's event time: the
// input features as gathered from v before imputation (NaN where missing, since
// imputed values would hide a feature going missing) and the run's raw outputs by
// name, before any clamping. The version's reference profile
// (registry.Version.Reference, written by hydrocast train) says which columns are
// compared; a version without one is skipped.
func (r *DriftRecorder) Record(m *LoadedModel, v *features.Vector,
	outputs map[string]float64) {
	if r == nil || m == nil || v == nil {
		return
	}
	k := drift.Key{Model: m.Version.Model, Version: m.Version.Number}
	names := r.columnsOf(k, m)
	values := make([]float64, len(names))
	for i := range values {
		values[i] = math.NaN()
	}
	inputs := min(len(m.featureIdx), len(names)-len(m.Family.Outputs))
	for k, i := range m.featureIdx[:inputs] {
		if v.Status[i] != features.StatusMissing {
			values[k] = v.Values[i]
		}
	}
	for j := inputs; j < len(names); j++ {
		if x, ok := outputs[names[j]]; ok {
			values[j] = x
		}
	}
	r.live.Observe(k, m.Version.Reference, names, v.AsOf, values)
}

// columnsOf returns the column names of version k: its input features, then the
// family's outputs.
func (r *DriftRecorder) columnsOf(k drift.Key, m *LoadedModel) []string {
	r.mu.RLock()
	names, ok := r.columns[k]
	r.mu.RUnlock()
	if ok {
		return names
	}
	if len(m.Version.Signature.Inputs) > 0 {
		names = append(names, m.Version.Signature.Inputs[0].Features...)
	}
	for _, o := range m.Family.Outputs {
		names = append(names, o.Name)
	}
	r.mu.Lock()
	r.columns[k] = names
	r.mu.Unlock()
	return names
}
