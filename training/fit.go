package training

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/mat"
)

// FitOptions tune the fits of the three families.
type FitOptions struct {
	// Seed assigns training athletes to cross-validation folds.
	Seed uint64
	// Folds is the number of athlete folds for cross-validation, which picks the
	// ridge penalty, gives the residuals of the sweat interval and the scores the
	// anomaly threshold is chosen on; zero means 5.
	Folds int
	// Lambdas is the grid of ridge penalties tried; nil means DefaultLambdas.
	Lambdas []float64
	// AnomalyHidden is the number of hidden units of the anomaly network; zero means
	// 16, and -1 fits a logistic regression instead. A linear score cannot flag both
	// a heart rate too steady and one too jumpy, so the default is a network.
	AnomalyHidden int
	// AnomalyL2 is the anomaly model's L2 penalty; zero means 1e-3.
	AnomalyL2 float64
	// AnomalyMaxIter bounds the iterations of the anomaly network's fit; zero means
	// 150, past which held-out detection no longer improves on the demo cohort.
	AnomalyMaxIter int
	// IntervalCoverage is the sweat interval's nominal coverage; zero means 0.8.
	IntervalCoverage float64
	// MaxFalseAlarmsPerHour bounds the false alarms per clean athlete-hour that the
	// anomaly threshold may give on the training athletes' cross-validated scores;
	// zero means 0.8, leaving room below the goal of 1 on unseen athletes.
	MaxFalseAlarmsPerHour float64
}

// DefaultLambdas is the ridge penalty grid tried by default.
var DefaultLambdas = []float64{1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10}

func (o FitOptions) withDefaults() FitOptions {
	if o.Folds == 0 {
		o.Folds = 5
	}
	if o.Lambdas == nil {
		o.Lambdas = DefaultLambdas
	}
	if o.AnomalyHidden == 0 {
		o.AnomalyHidden = 16
	}
	if o.AnomalyL2 == 0 {
		o.AnomalyL2 = 1e-3
	}
	if o.AnomalyMaxIter == 0 {
		o.AnomalyMaxIter = 150
	}
	if o.IntervalCoverage == 0 {
		o.IntervalCoverage = 0.8
	}
	if o.MaxFalseAlarmsPerHour == 0 {
		o.MaxFalseAlarmsPerHour = 0.8
	}
	return o
}

// FitSweat fits the sweat-rate family: ridge regression with the penalty of lowest
// cross-validated MAE, and an interval from the quantiles of the out-of-fold
// residuals on the training athletes (in-sample residuals of a session-level label
// would be too narrow for an athlete never seen). Every fold's fit and every
// penalty are solved from one set of sums per fold (see ridgeFromRows).
func FitSweat(train *Dataset, o FitOptions) (*Model, error) {
	o = o.withDefaults()
	folds := athleteFolds(train.Athletes, o.Folds, o.Seed)
	s, err := ridgeFromRows(train, folds, o.Lambdas)
	if err != nil {
		return nil, fmt.Errorf("fit %s: %w", train.Family.Name, err)
	}
	best, err := s.best()
	if err != nil {
		return nil, fmt.Errorf("fit %s: %w", train.Family.Name, err)
	}
	iv := ResidualInterval(s.outOfFoldResiduals(train, best), o.IntervalCoverage)
	return s.fullModel(best, &iv), nil
}

// FitThermal fits the thermal family: multi-output ridge regression with the penalty
// of lowest cross-validated RMSE, averaged over the horizons.
func FitThermal(train *Dataset, o FitOptions) (*Model, error) {
	o = o.withDefaults()
	folds := athleteFolds(train.Athletes, o.Folds, o.Seed)
	s, err := ridgeFromRows(train, folds, o.Lambdas)
	if err != nil {
		return nil, fmt.Errorf("fit %s: %w", train.Family.Name, err)
	}
	best, err := s.best()
	if err != nil {
		return nil, fmt.Errorf("fit %s: %w", train.Family.Name, err)
	}
	return s.fullModel(best, nil), nil
}

// FitAnomaly fits the anomaly family: a class-balanced network with one hidden layer
// (or a logistic regression, see FitOptions.AnomalyHidden), with the alarm threshold
// set to the lowest score whose alarms on the training athletes' out-of-fold scores
// stay within o.MaxFalseAlarmsPerHour.
func FitAnomaly(train *Dataset, o FitOptions) (*Model, error) {
	o = o.withDefaults()
	folds := athleteFolds(train.Athletes, o.Folds, o.Seed)
	fit := func(d *Dataset) (*Model, error) {
		if o.AnomalyHidden < 0 {
			return fitLogisticModel(d, o.AnomalyL2)
		}
		return fitMLPModel(d, MLPOptions{Hidden: o.AnomalyHidden, L2: o.AnomalyL2,
			MaxIter: o.AnomalyMaxIter, Seed: o.Seed})
	}
	oof, m, err := crossFit(train, folds, fit, true)
	if err != nil {
		return nil, fmt.Errorf("fit %s: %w", train.Family.Name, err)
	}
	m.Threshold = pickThreshold(mat.Col(nil, 0, oof), mat.Col(nil, 0, train.Y), train.When,
		o.MaxFalseAlarmsPerHour)
	return m, nil
}

// fitLogisticModel imputes and fits a class-balanced logistic regression of d's
// single 0/1 label.
func fitLogisticModel(d *Dataset, l2 float64) (*Model, error) {
	im := FitImputer(d.X)
	lg, err := FitLogistic(im.Fill(d.X), mat.Col(nil, 0, d.Y), LogisticOptions{L2: l2})
	if err != nil {
		return nil, err
	}
	return &Model{Family: d.Family, Imputer: im, Linear: roundParams(&lg.Linear),
		Sigmoid: true, Lambda: l2}, nil
}

// fitMLPModel imputes and fits a class-balanced network on d's single 0/1 label,
// with parameters rounded to the exported graph's float32.
func fitMLPModel(d *Dataset, o MLPOptions) (*Model, error) {
	im := FitImputer(d.X)
	net, err := FitMLP(im.Fill(d.X), mat.Col(nil, 0, d.Y), o)
	if err != nil {
		return nil, err
	}
	return &Model{Family: d.Family, Imputer: im, Net: net.rounded(), Lambda: o.L2}, nil
}

// crossFit fits one model per fold, on the other folds' athletes, and, when full is
// set, one more on every row; the fits run side by side on GOMAXPROCS goroutines. It
// returns the out-of-fold predictions of every row and the full model. The result
// does not depend on the scheduling: each fit writes only its own rows.
func crossFit(d *Dataset, folds map[string]int, fit func(*Dataset) (*Model, error),
	full bool) (*mat.Dense, *Model, error) {
	k := 0
	for _, f := range folds {
		k = max(k, f+1)
	}
	_, m := d.Y.Dims()
	oof := mat.NewDense(d.Rows(), m, nil)
	var fullModel *Model

	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	if full {
		g.Go(func() error {
			var err error
			fullModel, err = fit(d)
			return err
		})
	}
	for f := range k {
		g.Go(func() error { return fitFold(d, folds, f, fit, oof) })
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return oof, fullModel, nil
}

// fitFold fits a model without fold f's athletes and writes its predictions of their
// rows into oof.
func fitFold(d *Dataset, folds map[string]int, f int, fit func(*Dataset) (*Model, error),
	oof *mat.Dense) error {
	rest := make(map[string]bool, len(folds))
	for a, af := range folds {
		rest[a] = af != f
	}
	model, err := fit(d.Subset(rest))
	if err != nil {
		return fmt.Errorf("fold %d: %w", f, err)
	}

	var rows []int
	for i, a := range d.Athletes {
		if !rest[a] {
			rows = append(rows, i)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	pred := model.Predict(pickRows(d.X, rows))
	for r, i := range rows {
		oof.SetRow(i, pred.RawRowView(r))
	}
	return nil
}

// athleteFolds assigns each distinct athlete to one of k folds, in a shuffled order
// that depends only on the set of athletes and the seed.
func athleteFolds(athletes []string, k int, seed uint64) map[string]int {
	ids := slices.Clone(athletes)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rng := rand.New(rand.NewPCG(seed, 0x666f6c64)) // "fold"
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	k = max(min(k, len(ids)), 1)
	folds := make(map[string]int, len(ids))
	for i, id := range ids {
		folds[id] = i % k
	}
	return folds
}

// pickThreshold returns the lowest candidate threshold whose alarms give at most
// maxPerHour false alarms per clean athlete-hour; candidates are quantiles of the
// scores, so the search costs a fixed number of passes.
func pickThreshold(score, label []float64, when []Timeline, maxPerHour float64) float64 {
	sorted := slices.Clone(score)
	sort.Float64s(sorted)
	const candidates = 1000
	best := 1.0
	for c := candidates - 1; c >= 0; c-- {
		th := sorted[c*(len(sorted)-1)/(candidates-1)]
		if Detect(score, label, when, th, anomalyEvery).FalseAlarmsPerHour > maxPerHour {
			break
		}
		best = th
	}
	return best
}

// roundParams returns l with every parameter rounded to float32, the precision of the
// exported graph, so that the Go model is the published one.
func roundParams(l *Linear) *Linear {
	r, c := l.Weights.Dims()
	return &Linear{Mean: round(l.Mean), Scale: round(l.Scale),
		Weights: mat.NewDense(r, c, round(l.Weights.RawMatrix().Data)), Bias: round(l.Bias)}
}

// rounded returns the network with every parameter rounded to float32.
func (m *MLP) rounded() *MLP {
	r, c := m.W1.Dims()
	return &MLP{Mean: round(m.Mean), Scale: round(m.Scale),
		W1: mat.NewDense(r, c, round(m.W1.RawMatrix().Data)), B1: round(m.B1),
		W2: round(m.W2), B2: float64(float32(m.B2)), Iterations: m.Iterations}
}

// round returns v rounded to float32 precision.
func round(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(float32(x))
	}
	return out
}
