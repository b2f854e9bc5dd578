package training

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ErrTooFewRows is returned when a fit has fewer usable rows than it needs.
var ErrTooFewRows = errors.New("too few rows to fit")

// Linear is a fitted linear model on standardised inputs. For an input row x, output j
// is Σ_i (x_i − Mean_i) / Scale_i · Weights(i, j) + Bias_j. The same arithmetic is what
// the exported ONNX graph computes.
type Linear struct {
	Mean    []float64  // per input, the training mean
	Scale   []float64  // per input, the training standard deviation (1 when constant)
	Weights *mat.Dense // inputs × outputs, on the standardised inputs
	Bias    []float64  // per output
}

// Outputs returns the number of outputs of the model.
func (l *Linear) Outputs() int { return len(l.Bias) }

// Predict returns the outputs for every row of x (rows × outputs). x must hold no NaN.
func (l *Linear) Predict(x *mat.Dense) *mat.Dense {
	z := standardize(x, l.Mean, l.Scale)
	n, _ := x.Dims()
	out := mat.NewDense(n, l.Outputs(), nil)
	out.Mul(z, l.Weights)
	for i := range n {
		row := out.RawRowView(i)
		for j := range row {
			row[j] += l.Bias[j]
		}
	}
	return out
}

// RawCoefficients returns the model in the units of its inputs: output j is
// Σ_i x_i · coef(i, j) + intercept_j. Tests use it to check recovered coefficients.
func (l *Linear) RawCoefficients() (coef *mat.Dense, intercept []float64) {
	k, m := l.Weights.Dims()
	coef = mat.NewDense(k, m, nil)
	intercept = append([]float64(nil), l.Bias...)
	for i := range k {
		for j := range m {
			c := l.Weights.At(i, j) / l.Scale[i]
			coef.Set(i, j, c)
			intercept[j] -= c * l.Mean[i]
		}
	}
	return coef, intercept
}

// columnMoments returns each column's mean and standard deviation; a column with no
// spread gets scale 1 so that standardising leaves it at zero instead of dividing by 0.
func columnMoments(x *mat.Dense) (mean, scale []float64) {
	n, k := x.Dims()
	mean = make([]float64, k)
	scale = make([]float64, k)
	for j := range k {
		var sum float64
		for i := range n {
			sum += x.At(i, j)
		}
		mean[j] = sum / float64(n)
		var ss float64
		for i := range n {
			d := x.At(i, j) - mean[j]
			ss += d * d
		}
		scale[j] = math.Sqrt(ss / float64(n))
		if scale[j] < 1e-12*math.Max(1, math.Abs(mean[j])) {
			scale[j] = 1
		}
	}
	return mean, scale
}

// standardize returns (x − mean) / scale, column by column.
func standardize(x *mat.Dense, mean, scale []float64) *mat.Dense {
	n, k := x.Dims()
	z := mat.NewDense(n, k, nil)
	for i := range n {
		src, dst := x.RawRowView(i), z.RawRowView(i)
		for j := range k {
			dst[j] = (src[j] - mean[j]) / scale[j]
		}
	}
	return z
}
