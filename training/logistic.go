package training

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ErrOneClass is returned when a classifier's labels hold a single class.
var ErrOneClass = errors.New("labels hold a single class")

// LogisticOptions tune FitLogistic.
type LogisticOptions struct {
	// L2 is the penalty on the weights of the standardised inputs, per unit of class
	// weight; the bias is not penalised. Zero fits without a penalty, which diverges
	// on separable data.
	L2 float64
	// PositiveWeight multiplies the loss of positive rows relative to negative ones.
	// Zero balances the classes: each class then carries half the total weight.
	PositiveWeight float64
	// MaxIter bounds the Newton iterations; zero means 50.
	MaxIter int
	// Tol stops the iterations when no coefficient moves by more than it; zero means
	// 1e-8.
	Tol float64
}

// Logistic is a fitted logistic regression: the probability of the positive class is
// the logistic function of the single output of Linear.
type Logistic struct {
	Linear
	// Iterations is the number of Newton steps the fit took.
	Iterations int
}

// Predict returns the positive-class probability of every row of x. x must hold no
// NaN.
func (l *Logistic) Predict(x *mat.Dense) []float64 {
	logits := l.Linear.Predict(x)
	p := mat.Col(nil, 0, logits)
	for i, v := range p {
		p[i] = sigmoid(v)
	}
	return p
}

// FitLogistic fits a class-weighted, L2-penalised logistic regression of the 0/1
// labels y on x by Newton's method (iteratively reweighted least squares) with a
// backtracking line search, on standardised inputs. x must hold no NaN.
func FitLogistic(x *mat.Dense, y []float64, opts LogisticOptions) (*Logistic, error) {
	n, k := x.Dims()
	if len(y) != n {
		return nil, fmt.Errorf("fit logistic: %d input rows but %d labels", n, len(y))
	}
	if n < 2 {
		return nil, ErrTooFewRows
	}
	weights, err := classWeights(y, opts.PositiveWeight)
	if err != nil {
		return nil, fmt.Errorf("fit logistic: %w", err)
	}
	maxIter, tol := opts.MaxIter, opts.Tol
	if maxIter == 0 {
		maxIter = 50
	}
	if tol == 0 {
		tol = 1e-8
	}

	mean, scale := columnMoments(x)
	p := &logisticProblem{z: standardize(x, mean, scale), y: y, c: weights, l2: opts.L2}
	theta := make([]float64, k+1) // weights, then bias
	theta[k] = p.priorLogit()

	iter := 0
	for iter < maxIter {
		iter++
		step, err := p.newtonStep(theta)
		if err != nil {
			return nil, fmt.Errorf("fit logistic, iteration %d: %w", iter, err)
		}
		moved := p.lineSearch(theta, step)
		if moved <= tol {
			break
		}
	}

	model := &Logistic{Iterations: iter, Linear: Linear{Mean: mean, Scale: scale,
		Weights: mat.NewDense(k, 1, append([]float64(nil), theta[:k]...)),
		Bias:    []float64{theta[k]}}}
	return model, nil
}

// classWeights returns each row's weight in the loss, normalised to sum to one.
func classWeights(y []float64, positiveWeight float64) ([]float64, error) {
	var pos float64
	for _, v := range y {
		if v != 0 && v != 1 {
			return nil, fmt.Errorf("label %v is neither 0 nor 1", v)
		}
		pos += v
	}
	neg := float64(len(y)) - pos
	if pos == 0 || neg == 0 {
		return nil, ErrOneClass
	}

	wPos, wNeg := positiveWeight, 1.0
	if positiveWeight == 0 {
		wPos, wNeg = 0.5/pos, 0.5/neg
	}
	total := wPos*pos + wNeg*neg
	c := make([]float64, len(y))
	for i, v := range y {
		c[i] = wNeg / total
		if v == 1 {
			c[i] = wPos / total
		}
	}
	return c, nil
}

// logisticProblem holds the standardised data of a fit.
type logisticProblem struct {
	z  *mat.Dense
	y  []float64
	c  []float64 // row weights, summing to one
	l2 float64
}

// priorLogit is the log-odds of the weighted positive share, the best bias of a model
// with no weights, from which Newton's method starts.
func (p *logisticProblem) priorLogit() float64 {
	var pos float64
	for i, v := range p.y {
		pos += p.c[i] * v
	}
	return math.Log(pos / (1 - pos))
}

// loss is the weighted negative log-likelihood plus the penalty at theta.
func (p *logisticProblem) loss(theta []float64) float64 {
	k := len(theta) - 1
	var sum float64
	for i := range p.y {
		t := p.logit(i, theta)
		// log(1 + e^t) − y·t, written to stay finite for large |t|.
		sum += p.c[i] * (softplus(t) - p.y[i]*t)
	}
	var ww float64
	for _, w := range theta[:k] {
		ww += w * w
	}
	return sum + p.l2/2*ww
}

func (p *logisticProblem) logit(i int, theta []float64) float64 {
	k := len(theta) - 1
	t := theta[k]
	for j, v := range p.z.RawRowView(i) {
		t += v * theta[j]
	}
	return t
}

// newtonStep solves H·step = −g at theta with a Cholesky factorisation of the
// Hessian of the loss.
func (p *logisticProblem) newtonStep(theta []float64) ([]float64, error) {
	k := len(theta) - 1
	n := len(p.y)
	grad := make([]float64, k+1)
	// Rows scaled by the square root of their IRLS weight, so that the Hessian is
	// one symmetric rank-k product.
	scaled := mat.NewDense(n, k+1, nil)
	for i := range n {
		prob := sigmoid(p.logit(i, theta))
		r := p.c[i] * (prob - p.y[i])
		s := math.Sqrt(p.c[i] * prob * (1 - prob))
		dst := scaled.RawRowView(i)
		for j, v := range p.z.RawRowView(i) {
			grad[j] += r * v
			dst[j] = s * v
		}
		grad[k] += r
		dst[k] = s
	}
	hess := mat.NewSymDense(k+1, nil)
	hess.SymOuterK(1, scaled.T())
	for j := range k {
		grad[j] += p.l2 * theta[j]
		hess.SetSym(j, j, hess.At(j, j)+p.l2)
	}
	// A whisker on the bias keeps the Hessian definite once every probability
	// saturates, which happens on separable data.
	hess.SetSym(k, k, hess.At(k, k)+1e-12)

	var chol mat.Cholesky
	if !chol.Factorize(hess) {
		return nil, errors.New("hessian is not positive definite")
	}
	step := mat.NewVecDense(k+1, nil)
	neg := mat.NewVecDense(k+1, grad)
	neg.ScaleVec(-1, neg)
	if err := chol.SolveVecTo(step, neg); err != nil {
		var cond mat.Condition
		if !errors.As(err, &cond) {
			return nil, fmt.Errorf("solve newton step: %w", err)
		}
		// An ill-conditioned Hessian still gives a descent direction; the line search
		// decides how far to trust it.
	}
	return step.RawVector().Data, nil
}

// lineSearch moves theta along step, halving the step until the loss does not rise,
// and returns the largest change of a coefficient.
func (p *logisticProblem) lineSearch(theta, step []float64) float64 {
	before := p.loss(theta)
	trial := make([]float64, len(theta))
	for t := 1.0; t > 1e-10; t /= 2 {
		for j := range theta {
			trial[j] = theta[j] + t*step[j]
		}
		if p.loss(trial) <= before {
			moved := 0.0
			for j := range theta {
				moved = math.Max(moved, math.Abs(trial[j]-theta[j]))
			}
			copy(theta, trial)
			return moved
		}
	}
	return 0
}

func sigmoid(t float64) float64 {
	if t >= 0 {
		return 1 / (1 + math.Exp(-t))
	}
	e := math.Exp(t)
	return e / (1 + e)
}

// softplus returns log(1 + e^t) without overflow.
func softplus(t float64) float64 {
	if t > 0 {
		return t + math.Log1p(math.Exp(-t))
	}
	return math.Log1p(math.Exp(t))
}
