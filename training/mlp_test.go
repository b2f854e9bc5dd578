package training

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// ringData labels points inside a ring of radius 1 to 2 around the origin: no line
// separates the classes, so a logistic regression cannot, and a network can.
func ringData(rng *rand.Rand, n int) (*mat.Dense, []float64) {
	x := mat.NewDense(n, 2, nil)
	y := make([]float64, n)
	for i := range n {
		a, b := 6*rng.Float64()-3, 6*rng.Float64()-3
		x.Set(i, 0, a)
		x.Set(i, 1, b)
		if r := math.Hypot(a, b); r > 1 && r < 2 {
			y[i] = 1
		}
	}
	return x, y
}

func accuracy(p, y []float64) float64 {
	right := 0
	for i := range p {
		if (p[i] >= 0.5) == (y[i] == 1) {
			right++
		}
	}
	return float64(right) / float64(len(p))
}

func TestFitMLPLearnsWhatALineCannot(t *testing.T) {
	x, y := ringData(rand.New(rand.NewPCG(21, 22)), 3000)
	xt, yt := ringData(rand.New(rand.NewPCG(23, 24)), 2000)

	lg, err := FitLogistic(x, y, LogisticOptions{L2: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	net, err := FitMLP(x, y, MLPOptions{Hidden: 24, L2: 1e-5, MaxIter: 1000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	linear, network := accuracy(lg.Predict(xt), yt), accuracy(net.Predict(xt), yt)
	t.Logf("accuracy on new points: logistic %.3f, network %.3f", linear, network)
	if network < 0.85 {
		t.Errorf("network accuracy %.3f on new points, want ≥ 0.85", network)
	}
	if network-linear < 0.2 {
		t.Errorf("network accuracy %.3f, logistic %.3f: want the network far ahead",
			network, linear)
	}
}

func TestFitMLPDeterministic(t *testing.T) {
	x, y := ringData(rand.New(rand.NewPCG(25, 26)), 500)
	fit := func(seed uint64) *MLP {
		m, err := FitMLP(x, y, MLPOptions{Hidden: 8, MaxIter: 50, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b, c := fit(1), fit(1), fit(2)
	if !slices.Equal(a.W1.RawMatrix().Data, b.W1.RawMatrix().Data) ||
		!slices.Equal(a.W2, b.W2) || a.B2 != b.B2 {
		t.Error("two fits with the same seed differ")
	}
	if slices.Equal(a.W1.RawMatrix().Data, c.W1.RawMatrix().Data) {
		t.Error("fits with seeds 1 and 2 are identical; the seed is not used")
	}
}

func TestMLPGradient(t *testing.T) {
	// The analytic gradient matches central differences of the loss.
	rng := rand.New(rand.NewPCG(27, 28))
	x, y := ringData(rng, 60)
	c, err := classWeights(y, 0)
	if err != nil {
		t.Fatal(err)
	}
	mean, scale := columnMoments(x)
	p := &mlpProblem{z: standardize(x, mean, scale), y: y, c: c, l2: 0.01, k: 2, h: 5}
	theta := p.initial(3)
	for j := range theta {
		theta[j] += 0.1 * rng.NormFloat64() // move biases off zero too
	}
	grad := make([]float64, len(theta))
	p.grad(grad, theta)
	for j := range theta {
		const h = 1e-6
		up, down := slices.Clone(theta), slices.Clone(theta)
		up[j] += h
		down[j] -= h
		numeric := (p.loss(up) - p.loss(down)) / (2 * h)
		if math.Abs(numeric-grad[j]) > 1e-6*math.Max(1, math.Abs(numeric)) {
			t.Errorf("parameter %d: gradient %.9f, numeric %.9f", j, grad[j], numeric)
		}
	}
}
