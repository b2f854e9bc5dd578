package onnxgraph

import (
	"fmt"
	"math"
	"slices"
)

// InputName names the one input of the models StandardizedLinear and MLP build: a
// float32 tensor [N, k] holding one row of k raw feature values per example.
const InputName = "features"

// Activation is applied element-wise to a model's final affine output.
type Activation int

const (
	// ActivationNone leaves the affine output as it is, for regression.
	ActivationNone Activation = iota

	// ActivationSigmoid maps the affine output into (0, 1), for probabilities.
	ActivationSigmoid
)

// String returns the activation's ONNX operator name, or "none".
func (a Activation) String() string {
	switch a {
	case ActivationNone:
		return "none"
	case ActivationSigmoid:
		return "Sigmoid"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// standardize adds (x − mean) / scale on the model input and returns the name of the
// standardised value.
func standardize(b *Builder, in string, mean, scale []float32) (string, error) {
	k := len(mean)
	if k == 0 {
		return "", fmt.Errorf("%w: no features to standardise", ErrInvalid)
	}
	if len(scale) != k {
		return "", fmt.Errorf("%w: %d means but %d scales", ErrShapeMismatch, k, len(scale))
	}
	if slices.Contains(scale, 0) {
		return "", fmt.Errorf("%w: a feature scale is zero", ErrInvalid)
	}
	if err := finite("standardisation", mean, scale); err != nil {
		return "", err
	}

	b.Initializer("mean", []int64{int64(k)}, mean)
	b.Initializer("scale", []int64{int64(k)}, scale)
	b.Node("Sub", []string{in, "mean"}, []string{"centered"})
	b.Node("Div", []string{"centered", "scale"}, []string{"standardized"})
	return "standardized", nil
}

// clip bounds each of the k input columns to [lower, upper], so that a model never
// extrapolates beyond the range it was fitted on; it returns the input unchanged when
// both bounds are nil.
func clip(b *Builder, in string, k int, lower, upper []float32) (string, error) {
	if lower == nil && upper == nil {
		return in, nil
	}
	if len(lower) != k || len(upper) != k {
		return "", fmt.Errorf("%w: %d lower and %d upper bounds for %d inputs",
			ErrShapeMismatch, len(lower), len(upper), k)
	}
	if err := finite("input bounds", lower, upper); err != nil {
		return "", err
	}
	for i := range lower {
		if lower[i] > upper[i] {
			return "", fmt.Errorf("%w: input %d has lower bound %g above upper bound %g",
				ErrInvalid, i, lower[i], upper[i])
		}
	}
	b.Initializer("lower", []int64{int64(k)}, lower)
	b.Initializer("upper", []int64{int64(k)}, upper)
	b.Node("Max", []string{in, "lower"}, []string{"floored"})
	b.Node("Min", []string{"floored", "upper"}, []string{"clipped"})
	return "clipped", nil
}

// affineOutput returns the name the final affine node writes: the model output itself
// when nothing follows it.
func affineOutput(act Activation, outputs []string) string {
	if act == ActivationNone && len(outputs) == 1 {
		return outputs[0]
	}
	return "affine"
}

// head adds the activation and the outputs after the final affine node, which wrote
// affine with m columns.
func head(b *Builder, affine string, m int, act Activation, outputs []string) error {
	if err := checkOutputs(m, outputs); err != nil {
		return err
	}

	last := affine
	switch act {
	case ActivationNone:
	case ActivationSigmoid:
		last = "activated"
		if len(outputs) == 1 {
			last = outputs[0]
		}
		b.Node("Sigmoid", []string{affine}, []string{last})
	default:
		return fmt.Errorf("%w: unknown activation %v", ErrInvalid, act)
	}

	if len(outputs) == 1 {
		b.Output(outputs[0], -1, int64(m))
		return nil
	}
	b.Node("Split", []string{last}, outputs, IntAttr("axis", 1))
	for _, name := range outputs {
		b.Output(name, -1, 1)
	}
	return nil
}

func checkOutputs(m int, outputs []string) error {
	if len(outputs) != 1 && len(outputs) != m {
		return fmt.Errorf("%w: %d output names for %d columns; give 1 or %d",
			ErrShapeMismatch, len(outputs), m, m)
	}
	for i, name := range outputs {
		if name == "" || name == InputName || slices.Contains(outputs[:i], name) {
			return fmt.Errorf("%w: output name %q is empty or taken", ErrInvalid, name)
		}
	}
	return nil
}

// finite rejects NaN and infinite parameters, which a diverged training run leaves and
// which would make every prediction meaningless.
func finite(what string, values ...[]float32) error {
	for _, v := range values {
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("%w: %s parameters hold %v", ErrInvalid, what, x)
			}
		}
	}
	return nil
}

func withMetadata(b *Builder, doc string, metadata map[string]string) {
	b.Doc(doc)
	for k, v := range metadata {
		b.Metadata(k, v)
	}
}
