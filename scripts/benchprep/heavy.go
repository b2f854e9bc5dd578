package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
)

// originHeavy is tagOrigin's value on the compute-bound sweat-rate network that the
// batching figure is measured on.
const originHeavy = "bench-heavy"

// publishHeavy publishes, as the production sweat-rate version of the registry in
// dir, a network whose run costs far more than the call that carries it: two hidden
// layers of width units (ReLU), reading the same features as the production version
// it replaces, so that the ModelInfer request written by seed fits it unchanged. Its
// weights are random and its outputs mean nothing; what the batching figure measures
// is what such a model costs to run one row at a time against many rows at once. It
// returns the version's number.
func publishHeavy(ctx context.Context, dir string, width int) (version int,
	err error) {
	if width < 1 || width > 8192 {
		return 0, fmt.Errorf("width %d: want 1 to 8192", width)
	}
	ctx = registry.WithPrincipal(ctx, "benchprep")
	reg, err := local.Open(ctx, dir)
	if err != nil {
		return 0, fmt.Errorf("open registry: %w", err)
	}
	defer func() { err = errors.Join(err, reg.Close()) }()

	fam, _ := models.FamilyByName(models.SweatRate)
	features := fam.Features
	if v, err := reg.Resolve(ctx, fam.Name, alias); err == nil &&
		len(v.Signature.Inputs) == 1 && len(v.Signature.Inputs[0].Features) > 0 {
		features = v.Signature.Inputs[0].Features
	}
	k, m := len(features), len(fam.Outputs)

	rng := rand.New(rand.NewPCG(uint64(width), 2))
	layer := func(in, out int) onnxgraph.Layer {
		// Weights of about 1/√in keep the activations of every layer near one.
		scale := float32(1 / math.Sqrt(float64(in)))
		l := onnxgraph.Layer{Weights: make([]float32, in*out), Bias: make([]float32, out)}
		for i := range l.Weights {
			l.Weights[i] = (rng.Float32()*2 - 1) * scale
		}
		return l
	}
	spec := onnxgraph.MLPSpec{Name: fam.Name,
		Doc:    fmt.Sprintf("compute-bound stand-in for make bench, two hidden layers of %d", width),
		Hidden: []onnxgraph.Layer{layer(k, width), layer(width, width)},
		Final:  layer(width, m)}
	sig := registry.Signature{Inputs: []registry.Tensor{{Name: models.InputName,
		Datatype: "FP32", Shape: []int64{-1, int64(k)}, Features: features}}}
	for _, o := range fam.Outputs {
		spec.Outputs = append(spec.Outputs, o.Name)
		sig.Outputs = append(sig.Outputs, registry.Tensor{Name: o.Name, Datatype: "FP32",
			Shape: []int64{-1, 1}})
	}
	b, err := onnxgraph.MLP(spec)
	if err != nil {
		return 0, fmt.Errorf("build heavy model: %w", err)
	}
	data, err := b.Marshal()
	if err != nil {
		return 0, fmt.Errorf("encode heavy model: %w", err)
	}
	impute, err := json.Marshal(make([]float32, k))
	if err != nil {
		return 0, fmt.Errorf("encode heavy model: %w", err)
	}
	v, err := reg.Publish(ctx, registry.PublishRequest{Model: fam.Name,
		Description: spec.Doc, Signature: sig, Artifact: data,
		Tags: map[string]string{tagOrigin: originHeavy,
			inference.TagImpute: string(impute)},
		Promote: &registry.Promotion{Alias: alias}})
	if err != nil {
		return 0, fmt.Errorf("publish heavy model: %w", err)
	}
	return v.Number, nil
}
