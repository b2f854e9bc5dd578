package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
)

// The states prepareModels reports.
const (
	stateTrained = "trained"
	stateStandIn = "stand-in"
	stateNone    = "none"
)

const (
	// alias is the alias hydrocast serve resolves by default.
	alias = "production"

	// tagOrigin marks the versions benchprep publishes, so that a later run can tell
	// them from trained ones.
	tagOrigin = "origin"
	// originStandIn is tagOrigin's value on a stand-in.
	originStandIn = "bench-stand-in"
)

// prepareModels reports the state of the production models of the registry in dir,
// publishing stand-ins first for the families without one when standIns is set. The
// state is stateTrained only when every family's production version was trained.
func prepareModels(ctx context.Context, dir string, standIns bool) (state string,
	err error) {
	ctx = registry.WithPrincipal(ctx, "benchprep")
	reg, err := local.Open(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("open registry: %w", err)
	}
	defer func() { err = errors.Join(err, reg.Close()) }()

	state = stateTrained
	for _, fam := range models.Families {
		v, err := reg.Resolve(ctx, fam.Name, alias)
		switch {
		case err == nil && v.Tags[tagOrigin] == originStandIn:
			state = worse(state, stateStandIn)
		case err == nil:
		case standIns:
			if err := publishStandIn(ctx, reg, fam); err != nil {
				return "", err
			}
			state = worse(state, stateStandIn)
		default:
			state = stateNone
		}
	}
	return state, nil
}

// worse returns the less complete of two states.
func worse(a, b string) string {
	rank := map[string]int{stateTrained: 0, stateStandIn: 1, stateNone: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// publishStandIn publishes a linear model of the family's shape with small weights
// and points production at it. Its outputs mean nothing; it costs what a trained
// linear model of the same shape costs to run, which is what the load tests measure.
func publishStandIn(ctx context.Context, reg *registry.Registry, fam models.Family) error {
	k, m := len(fam.Features), len(fam.Outputs)
	spec := onnxgraph.LinearSpec{Name: fam.Name, Mean: make([]float32, k),
		Scale: make([]float32, k), Weights: make([]float32, k*m), Bias: make([]float32, m)}
	for i := range k {
		spec.Scale[i] = 1
		for j := range m {
			spec.Weights[i*m+j] = 0.001
		}
	}
	sig := registry.Signature{Inputs: []registry.Tensor{{Name: models.InputName,
		Datatype: "FP32", Shape: []int64{-1, int64(k)}, Features: fam.Features}}}
	for _, o := range fam.Outputs {
		spec.Outputs = append(spec.Outputs, o.Name)
		sig.Outputs = append(sig.Outputs, registry.Tensor{Name: o.Name, Datatype: "FP32",
			Shape: []int64{-1, 1}})
	}
	b, err := onnxgraph.StandardizedLinear(spec)
	if err != nil {
		return fmt.Errorf("build stand-in %s: %w", fam.Name, err)
	}
	data, err := b.Marshal()
	if err != nil {
		return fmt.Errorf("encode stand-in %s: %w", fam.Name, err)
	}
	impute, err := json.Marshal(make([]float32, k))
	if err != nil {
		return fmt.Errorf("encode stand-in %s: %w", fam.Name, err)
	}

	_, err = reg.Publish(ctx, registry.PublishRequest{Model: fam.Name,
		Description: "linear stand-in for make bench, not a trained model",
		Signature:   sig, Artifact: data,
		Tags: map[string]string{tagOrigin: originStandIn,
			inference.TagImpute: string(impute)},
		Promote: &registry.Promotion{Alias: alias}})
	if err != nil {
		return fmt.Errorf("publish stand-in %s: %w", fam.Name, err)
	}
	return nil
}
