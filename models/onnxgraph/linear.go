package onnxgraph

import "fmt"

// LinearSpec describes a standardised linear model:
// y = activation(((x − Mean) / Scale) · Weights + Bias) for each row x of the input.
type LinearSpec struct {
	// Name names the graph.
	Name string

	// Doc is the model's doc string.
	Doc string

	// Mean and Scale standardise the k input features, in input column order. No
	// scale may be zero.
	Mean, Scale []float32

	// Weights is the k×m matrix of coefficients, row-major: Weights[i*m+j] multiplies
	// standardised feature i for result column j.
	Weights []float32

	// Lower and Upper, when set, bound each of the k input columns before
	// standardising (the range the model was fitted on); nil leaves inputs as they are.
	Lower, Upper []float32

	// Bias holds one intercept per result column; its length is m.
	Bias []float32

	// Activation is applied to every result column; the zero value applies none.
	Activation Activation

	// Outputs names the model outputs: one name for a single [N, m] output, or m names
	// for one [N, 1] output per column (see the package documentation).
	Outputs []string

	// Metadata is written into the model's metadata_props.
	Metadata map[string]string
}

// StandardizedLinear returns a Builder holding the model spec describes, with input
// InputName [N, k], checked and ready to Marshal or to extend with more metadata.
func StandardizedLinear(spec LinearSpec) (*Builder, error) {
	b := NewBuilder(spec.Name)
	withMetadata(b, spec.Doc, spec.Metadata)

	x, err := clip(b, InputName, len(spec.Mean), spec.Lower, spec.Upper)
	if err == nil {
		x, err = standardize(b, x, spec.Mean, spec.Scale)
	}
	if err != nil {
		return nil, fmt.Errorf("build linear model %q: %w", spec.Name, err)
	}
	k, m := len(spec.Mean), len(spec.Bias)
	if m == 0 || len(spec.Weights) != k*m {
		return nil, fmt.Errorf("build linear model %q: %w: %d weights for %d features "+
			"and %d columns", spec.Name, ErrShapeMismatch, len(spec.Weights), k, m)
	}
	if err := finite("linear", spec.Weights, spec.Bias); err != nil {
		return nil, fmt.Errorf("build linear model %q: %w", spec.Name, err)
	}

	b.Input(InputName, -1, int64(k))
	b.Initializer("weights", []int64{int64(k), int64(m)}, spec.Weights)
	b.Initializer("bias", []int64{int64(m)}, spec.Bias)
	b.Node("MatMul", []string{x, "weights"}, []string{"product"})
	affine := affineOutput(spec.Activation, spec.Outputs)
	b.Node("Add", []string{"product", "bias"}, []string{affine})

	if err := head(b, affine, m, spec.Activation, spec.Outputs); err != nil {
		return nil, fmt.Errorf("build linear model %q: %w", spec.Name, err)
	}
	if _, err := b.Model(); err != nil {
		return nil, err
	}
	return b, nil
}
