// Package registrytest holds the behaviour suite that every registry.Store must
// pass, whatever its engine, and the sample versions it publishes. An engine's test
// runs it with a constructor:
//
//	func TestStore(t *testing.T) {
//		registrytest.TestStore(t, func(t *testing.T) registrytest.Opener { … })
//	}
package registrytest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hydrocast/hydrocast/registry"
)

// Opener opens a Store on one backing database. Each call must reach the same data,
// as a restarted process would.
type Opener func(ctx context.Context) (registry.Store, error)

// Principal is the identity the suite's mutations run as.
const Principal = "trainer@registrytest"

// Context returns t's context carrying Principal.
func Context(t testing.TB) context.Context {
	return registry.WithPrincipal(t.Context(), Principal)
}

// Digest returns the hex SHA-256 of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Signature returns a signature shaped like hydrocast's sweat-rate model: one batch
// of named features in, one rate out.
func Signature() registry.Signature {
	features := []string{"heart_rate_bpm_mean_15m", "skin_temp_c_mean_15m",
		"ambient_temp_c", "humidity_pct", "body_mass_kg"}
	return registry.Signature{
		Inputs: []registry.Tensor{{Name: "features", Datatype: "FP32",
			Shape: []int64{-1, int64(len(features))}, Features: features}},
		Outputs: []registry.Tensor{{Name: "sweat_rate_l_per_h", Datatype: "FP32",
			Shape: []int64{-1, 1}}},
	}
}

// NewVersion returns a ready version of model whose fields all differ with seed, for
// an artifact whose content is derived from model and seed.
func NewVersion(model string, seed int64) registry.NewVersion {
	artifact := fmt.Appendf(nil, "onnx bytes of %s seed %d", model, seed)
	card := fmt.Sprintf(`{"intended_use":"hydration planning","seed":%d}`, seed)
	return registry.NewVersion{
		Version: registry.Version{
			Model:       model,
			Status:      registry.StatusReady,
			Description: fmt.Sprintf("trained with seed %d", seed),
			Signature:   Signature(),
			Tags:        map[string]string{"trainer": "gonum-ridge", "cohort": "synthetic"},
			Card: registry.ModelCard{
				Markdown: fmt.Sprintf("# %s\n\nSeed %d.\n", model, seed),
				Document: json.RawMessage(card),
			},
			Metrics: map[string]float64{"mae_l_per_h": 0.1 + float64(seed)/1000,
				"r2": 0.8},
			Lineage: registry.Lineage{RunID: fmt.Sprintf("run-%d", seed),
				DataFingerprint: Digest([]byte(model)), CodeVersion: "v0.1.0", Seed: seed,
				Generator: "simulate/v1"},
			Digest:    Digest(artifact),
			Size:      int64(len(artifact)),
			Reference: json.RawMessage(`{"features":{"humidity_pct":{"mean":55}}}`),
		},
		ModelDescription: "sweat rate from wearable features",
	}
}
