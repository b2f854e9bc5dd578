package training

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// MLP is a fitted classifier with one hidden layer on standardised inputs: the
// positive-class probability of a row x is σ(relu(z·W1 + B1)·W2 + B2), with
// z = (x − Mean) / Scale. The exported graph computes the same.
type MLP struct {
	Mean, Scale []float64
	W1          *mat.Dense // inputs × hidden
	B1          []float64  // hidden
	W2          []float64  // hidden
	B2          float64
	// Iterations is the number of L-BFGS iterations the fit took.
	Iterations int
}

// MLPOptions tune FitMLP.
type MLPOptions struct {
	// Hidden is the number of hidden units; zero means 16.
	Hidden int
	// L2 is the penalty on the weights (not the biases), per unit of total class
	// weight; zero fits without a penalty.
	L2 float64
	// PositiveWeight multiplies the loss of positive rows; zero balances the classes
	// as in LogisticOptions.
	PositiveWeight float64
	// MaxIter bounds the L-BFGS iterations; zero means 300.
	MaxIter int
	// Seed draws the initial weights.
	Seed uint64
}

// FitMLP fits a class-weighted, L2-penalised one-hidden-layer network of the 0/1
// labels y on x by minimising the weighted cross-entropy with L-BFGS from weights
// drawn with the seed. The fit is deterministic. x must hold no NaN.
func FitMLP(x *mat.Dense, y []float64, o MLPOptions) (*MLP, error) {
	n, k := x.Dims()
	if len(y) != n {
		return nil, fmt.Errorf("fit mlp: %d input rows but %d labels", n, len(y))
	}
	if n < 2 {
		return nil, ErrTooFewRows
	}
	if o.Hidden == 0 {
		o.Hidden = 16
	}
	if o.MaxIter == 0 {
		o.MaxIter = 300
	}
	c, err := classWeights(y, o.PositiveWeight)
	if err != nil {
		return nil, fmt.Errorf("fit mlp: %w", err)
	}

	mean, scale := columnMoments(x)
	net := &mlpProblem{z: standardize(x, mean, scale), y: y, c: c, l2: o.L2, k: k,
		h: o.Hidden}
	res, err := optimize.Minimize(optimize.Problem{Func: net.loss, Grad: net.grad},
		net.initial(o.Seed), &optimize.Settings{
			GradientThreshold: 1e-7,
			MajorIterations:   o.MaxIter,
			Converger:         &optimize.FunctionConverge{Absolute: 1e-10, Iterations: 20},
		}, &optimize.LBFGS{})
	if err != nil && !errors.Is(err, optimize.ErrLinesearcherFailure) {
		return nil, fmt.Errorf("fit mlp: %w", err)
	}

	w1, b1, w2, b2 := net.unpack(res.X)
	return &MLP{Mean: mean, Scale: scale, W1: mat.DenseCopyOf(w1),
		B1: append([]float64(nil), b1...), W2: append([]float64(nil), w2...), B2: b2,
		Iterations: res.Stats.MajorIterations}, nil
}

// Predict returns the positive-class probability of every row of x.
func (m *MLP) Predict(x *mat.Dense) []float64 {
	n, _ := x.Dims()
	_, h := m.W1.Dims()
	hidden := mat.NewDense(n, h, nil)
	hidden.Mul(standardize(x, m.Mean, m.Scale), m.W1)
	p := make([]float64, n)
	for i := range n {
		t := m.B2
		for j, v := range hidden.RawRowView(i) {
			t += math.Max(v+m.B1[j], 0) * m.W2[j]
		}
		p[i] = sigmoid(t)
	}
	return p
}

// mlpProblem is the loss of a network on standardised data, as a function of the
// parameters packed as W1 (row-major), B1, W2, B2.
type mlpProblem struct {
	z    *mat.Dense
	y, c []float64
	l2   float64
	k, h int

	// The forward pass of the last parameters evaluated, which Grad reuses: L-BFGS
	// asks for the loss and the gradient at the same point.
	lastX  []float64
	hidden *mat.Dense // after ReLU
	logit  []float64
}

func (p *mlpProblem) unpack(x []float64) (w1 *mat.Dense, b1, w2 []float64, b2 float64) {
	kh := p.k * p.h
	w1 = mat.NewDense(p.k, p.h, x[:kh])
	return w1, x[kh : kh+p.h], x[kh+p.h : kh+2*p.h], x[kh+2*p.h]
}

// initial draws He-scaled first-layer weights and small output weights, with biases
// at zero except the output's, which starts at the weighted log-odds.
func (p *mlpProblem) initial(seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x6d6c70)) // "mlp"
	x := make([]float64, p.k*p.h+2*p.h+1)
	w1, _, w2, _ := p.unpack(x)
	std := math.Sqrt(2 / float64(p.k))
	for i := range p.k {
		for j := range p.h {
			w1.Set(i, j, std*rng.NormFloat64())
		}
	}
	for j := range w2 {
		w2[j] = rng.NormFloat64() / math.Sqrt(float64(p.h))
	}
	lp := &logisticProblem{y: p.y, c: p.c}
	x[len(x)-1] = lp.priorLogit()
	return x
}

// forward computes the hidden activations and logits of every row at x. The loops
// are written out: with a dozen inputs and a few dozen units, gonum's general matrix
// product spends more on bookkeeping than on arithmetic.
func (p *mlpProblem) forward(x []float64) {
	if p.lastX != nil && equalSlices(p.lastX, x) {
		return
	}
	w1, b1, w2, b2 := p.unpack(x)
	n := len(p.y)
	if p.hidden == nil {
		p.hidden = mat.NewDense(n, p.h, nil)
		p.logit = make([]float64, n)
	}
	wd := w1.RawMatrix().Data
	for i := range n {
		row := p.hidden.RawRowView(i)
		copy(row, b1)
		for k, z := range p.z.RawRowView(i) {
			for j, w := range wd[k*p.h : (k+1)*p.h] {
				row[j] += z * w
			}
		}
		t := b2
		for j, v := range row {
			v = math.Max(v, 0)
			row[j] = v
			t += v * w2[j]
		}
		p.logit[i] = t
	}
	p.lastX = append(p.lastX[:0], x...)
}

func (p *mlpProblem) loss(x []float64) float64 {
	p.forward(x)
	var sum float64
	for i, t := range p.logit {
		sum += p.c[i] * (softplus(t) - p.y[i]*t)
	}
	return sum + p.l2/2*p.weightNorm(x)
}

func (p *mlpProblem) weightNorm(x []float64) float64 {
	w1, _, w2, _ := p.unpack(x)
	var s float64
	for _, v := range w1.RawMatrix().Data {
		s += v * v
	}
	for _, v := range w2 {
		s += v * v
	}
	return s
}

func (p *mlpProblem) grad(g, x []float64) {
	p.forward(x)
	w1, _, w2, _ := p.unpack(x)
	gw1, gb1, gw2, _ := p.unpack(g)
	clear(g)
	gd, wd := gw1.RawMatrix().Data, w1.RawMatrix().Data

	// d is the loss's derivative by a row's logit; dh carries it back through the
	// output weights and the ReLU to the hidden units.
	dh := make([]float64, p.h)
	var gb2 float64
	for i, t := range p.logit {
		d := p.c[i] * (sigmoid(t) - p.y[i])
		gb2 += d
		for j, hv := range p.hidden.RawRowView(i) {
			gw2[j] += d * hv
			dh[j] = 0
			if hv > 0 {
				dh[j] = d * w2[j]
				gb1[j] += dh[j]
			}
		}
		for k, z := range p.z.RawRowView(i) {
			grow := gd[k*p.h : (k+1)*p.h]
			for j, v := range dh {
				grow[j] += z * v
			}
		}
	}
	for i, w := range wd {
		gd[i] += p.l2 * w
	}
	for j := range gw2 {
		gw2[j] += p.l2 * w2[j]
	}
	g[len(g)-1] = gb2
}

func equalSlices(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
