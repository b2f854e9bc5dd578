package onnxgraph

import (
	"fmt"
	"strconv"
)

// Layer is one fully connected layer, out = in · Weights + Bias.
type Layer struct {
	// Weights is the in×out matrix, row-major: Weights[i*out+j] joins input i to
	// unit j.
	Weights []float32

	// Bias holds one value per unit; its length is the layer's width out.
	Bias []float32
}

// width returns the layer's input and output widths, or false when Weights does not
// hold a whole number of rows.
func (l Layer) width() (in, out int, ok bool) {
	out = len(l.Bias)
	if out == 0 || len(l.Weights) == 0 || len(l.Weights)%out != 0 {
		return 0, 0, false
	}
	return len(l.Weights) / out, out, true
}

// MLPSpec describes a multilayer perceptron for when a linear model is too weak:
// optional standardisation, one or two hidden layers each followed by ReLU, and a
// final layer with an optional activation.
type MLPSpec struct {
	// Name names the graph.
	Name string

	// Doc is the model's doc string.
	Doc string

	// Mean and Scale standardise the k input features as in LinearSpec; leave both nil
	// when the features need no standardising.
	Mean, Scale []float32

	// Lower and Upper bound the inputs as in LinearSpec; nil leaves them as they are.
	Lower, Upper []float32

	// Hidden holds the one or two hidden layers in order; the first takes k inputs.
	Hidden []Layer

	// Final is the output layer; its width is the number of result columns m.
	Final Layer

	// Activation is applied to every result column; the zero value applies none.
	Activation Activation

	// Outputs names the model outputs as in LinearSpec.
	Outputs []string

	// Metadata is written into the model's metadata_props.
	Metadata map[string]string
}

// MLP returns a Builder holding the network spec describes, with input InputName
// [N, k], checked and ready to Marshal.
func MLP(spec MLPSpec) (*Builder, error) {
	b, err := buildMLP(spec)
	if err != nil {
		return nil, fmt.Errorf("build mlp %q: %w", spec.Name, err)
	}
	if _, err := b.Model(); err != nil {
		return nil, err
	}
	return b, nil
}

func buildMLP(spec MLPSpec) (*Builder, error) {
	if len(spec.Hidden) < 1 || len(spec.Hidden) > 2 {
		return nil, fmt.Errorf("%w: %d hidden layers, want 1 or 2", ErrInvalid,
			len(spec.Hidden))
	}
	k, _, ok := spec.Hidden[0].width()
	if !ok {
		return nil, fmt.Errorf("%w: hidden layer 0 weights do not fit its bias",
			ErrShapeMismatch)
	}

	b := NewBuilder(spec.Name)
	withMetadata(b, spec.Doc, spec.Metadata)
	b.Input(InputName, -1, int64(k))
	x, err := clip(b, InputName, k, spec.Lower, spec.Upper)
	if err != nil {
		return nil, err
	}
	if spec.Mean != nil || spec.Scale != nil {
		if len(spec.Mean) != k {
			return nil, fmt.Errorf("%w: %d means for %d inputs", ErrShapeMismatch,
				len(spec.Mean), k)
		}
		if x, err = standardize(b, x, spec.Mean, spec.Scale); err != nil {
			return nil, err
		}
	}

	for i, l := range spec.Hidden {
		name := "hidden" + strconv.Itoa(i)
		if err := dense(b, name, l, x, k, name+"_linear"); err != nil {
			return nil, err
		}
		x = name + "_relu"
		b.Node("Relu", []string{name + "_linear"}, []string{x})
		_, k, _ = l.width()
	}

	affine := affineOutput(spec.Activation, spec.Outputs)
	if err := dense(b, "final", spec.Final, x, k, affine); err != nil {
		return nil, err
	}
	_, m, _ := spec.Final.width()
	return b, head(b, affine, m, spec.Activation, spec.Outputs)
}

// dense adds a Gemm node computing layer l of the given name on x, which has width in.
func dense(b *Builder, name string, l Layer, x string, in int, out string) error {
	lin, width, ok := l.width()
	if !ok || lin != in {
		return fmt.Errorf("%w: layer %s has %d weights and %d biases, want %d inputs",
			ErrShapeMismatch, name, len(l.Weights), len(l.Bias), in)
	}
	if err := finite(name, l.Weights, l.Bias); err != nil {
		return err
	}

	b.Initializer(name+"_weights", []int64{int64(in), int64(width)}, l.Weights)
	b.Initializer(name+"_bias", []int64{int64(width)}, l.Bias)
	b.Node("Gemm", []string{x, name + "_weights", name + "_bias"}, []string{out})
	return nil
}
