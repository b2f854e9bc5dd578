package training

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// linearData draws n rows of k inputs with different scales and offsets and returns
// them with y = x·coef + intercept + noise·N(0, 1).
func linearData(rng *rand.Rand, n int, coef *mat.Dense, intercept []float64,
	noise float64) (x, y *mat.Dense) {
	k, m := coef.Dims()
	x = mat.NewDense(n, k, nil)
	for i := range n {
		for j := range k {
			x.Set(i, j, float64(10*j)+float64(j+1)*rng.NormFloat64())
		}
	}
	y = mat.NewDense(n, m, nil)
	y.Mul(x, coef)
	for i := range n {
		for j := range m {
			y.Set(i, j, y.At(i, j)+intercept[j]+noise*rng.NormFloat64())
		}
	}
	return x, y
}

func TestFitRidgeRecoversCoefficients(t *testing.T) {
	coef := mat.NewDense(3, 2, []float64{
		1.5, -0.2,
		-2.0, 0.0,
		0.25, 3.0,
	})
	intercept := []float64{4, -1}
	cases := []struct {
		name   string
		lambda float64
		tol    float64
	}{
		{"no penalty", 0, 1e-9},
		{"tiny penalty", 1e-9, 1e-6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, y := linearData(rand.New(rand.NewPCG(1, 2)), 200, coef, intercept, 0)
			model, err := FitRidge(x, y, c.lambda)
			if err != nil {
				t.Fatal(err)
			}
			got, gotIntercept := model.RawCoefficients()
			for i := range 3 {
				for j := range 2 {
					if d := math.Abs(got.At(i, j) - coef.At(i, j)); d > c.tol {
						t.Errorf("coef(%d,%d) = %.10f, want %v", i, j, got.At(i, j),
							coef.At(i, j))
					}
				}
			}
			for j := range 2 {
				if d := math.Abs(gotIntercept[j] - intercept[j]); d > c.tol*100 {
					t.Errorf("intercept %d = %.10f, want %v", j, gotIntercept[j],
						intercept[j])
				}
			}
		})
	}
}

func TestFitRidgeShrinks(t *testing.T) {
	coef := mat.NewDense(2, 1, []float64{1, -1})
	x, y := linearData(rand.New(rand.NewPCG(3, 4)), 300, coef, []float64{0}, 0.1)
	var prev float64 = math.Inf(1)
	for _, lambda := range []float64{0, 0.1, 1, 10} {
		t.Run(fmt.Sprintf("lambda %v", lambda), func(t *testing.T) {
			model, err := FitRidge(x, y, lambda)
			if err != nil {
				t.Fatal(err)
			}
			norm := mat.Norm(model.Weights, 2)
			if norm >= prev {
				t.Errorf("weight norm %.4f at λ=%v, not below %.4f at the smaller λ",
					norm, lambda, prev)
			}
			prev = norm
		})
	}
}

func TestFitRidgeMissingLabels(t *testing.T) {
	// Output 1 is labelled on half the rows only; its fit must still recover the
	// coefficients, which are different from output 0's.
	coef := mat.NewDense(2, 2, []float64{2, -1, 0.5, 3})
	x, y := linearData(rand.New(rand.NewPCG(5, 6)), 100, coef, []float64{1, 2}, 0)
	for i := range 50 {
		y.Set(2*i, 1, math.NaN())
	}
	model, err := FitRidge(x, y, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, intercept := model.RawCoefficients()
	if !mat.EqualApprox(got, coef, 1e-9) {
		t.Errorf("coefficients %v, want %v", mat.Formatted(got), mat.Formatted(coef))
	}
	if math.Abs(intercept[1]-2) > 1e-7 {
		t.Errorf("intercept of the half-labelled output %.9f, want 2", intercept[1])
	}
}

func TestFitRidgeTooFewRows(t *testing.T) {
	x := mat.NewDense(1, 2, []float64{1, 2})
	y := mat.NewDense(1, 1, []float64{3})
	if _, err := FitRidge(x, y, 1); !errors.Is(err, ErrTooFewRows) {
		t.Errorf("error %v, want ErrTooFewRows", err)
	}
}

func TestFitLogisticSeparates(t *testing.T) {
	// Two clouds separated along x0 + x1 = 0, with a nuisance input; 10 % positives.
	rng := rand.New(rand.NewPCG(7, 8))
	n := 400
	x := mat.NewDense(n, 3, nil)
	y := make([]float64, n)
	for i := range n {
		side := -1.0
		if i%10 == 0 {
			side, y[i] = 1, 1
		}
		x.Set(i, 0, side*(1+rng.Float64()))
		x.Set(i, 1, side*(0.5+rng.Float64()))
		x.Set(i, 2, 100+10*rng.NormFloat64())
	}
	for _, l2 := range []float64{1e-4, 1e-2} {
		t.Run(fmt.Sprintf("L2 %v", l2), func(t *testing.T) {
			model, err := FitLogistic(x, y, LogisticOptions{L2: l2})
			if err != nil {
				t.Fatal(err)
			}
			p := model.Predict(x)
			for i, v := range p {
				if (v >= 0.5) != (y[i] == 1) {
					t.Fatalf("row %d (label %v) has probability %.4f", i, y[i], v)
				}
			}
			w := model.Weights.RawMatrix().Data
			if w[0] <= 0 || w[1] <= 0 || math.Abs(w[2]) > w[0]/10 {
				t.Errorf("weights %v: want both separating inputs positive, "+
					"nuisance small", w)
			}
		})
	}
}

func TestFitLogisticRecoversModel(t *testing.T) {
	// Labels drawn from a known logistic model: an unpenalised, unweighted fit on
	// many rows recovers its coefficients.
	rng := rand.New(rand.NewPCG(9, 10))
	n := 20000
	x := mat.NewDense(n, 2, nil)
	y := make([]float64, n)
	for i := range n {
		a, b := rng.NormFloat64(), 3+2*rng.NormFloat64()
		x.Set(i, 0, a)
		x.Set(i, 1, b)
		if rng.Float64() < sigmoid(-1+1.5*a-0.5*b) {
			y[i] = 1
		}
	}
	model, err := FitLogistic(x, y, LogisticOptions{PositiveWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	coef, intercept := model.RawCoefficients()
	want := []float64{1.5, -0.5}
	for j, w := range want {
		if math.Abs(coef.At(j, 0)-w) > 0.1 {
			t.Errorf("coef %d = %.3f, want %v", j, coef.At(j, 0), w)
		}
	}
	if math.Abs(intercept[0]+1) > 0.15 {
		t.Errorf("intercept %.3f, want -1", intercept[0])
	}
}

func TestFitLogisticClassWeights(t *testing.T) {
	// Overlapping classes, 5 % positives: balancing the classes must raise the
	// probabilities of the positives above those of an unweighted fit.
	rng := rand.New(rand.NewPCG(11, 12))
	n := 2000
	x := mat.NewDense(n, 1, nil)
	y := make([]float64, n)
	for i := range n {
		v := rng.NormFloat64()
		if i%20 == 0 {
			v, y[i] = v+1, 1
		}
		x.Set(i, 0, v)
	}
	plain, err := FitLogistic(x, y, LogisticOptions{PositiveWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	balanced, err := FitLogistic(x, y, LogisticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pp, pb := plain.Predict(x), balanced.Predict(x)
	var meanPlain, meanBalanced float64
	for i := range n {
		meanPlain += pp[i] / float64(n)
		meanBalanced += pb[i] / float64(n)
	}
	if math.Abs(meanPlain-0.05) > 0.005 {
		t.Errorf("unweighted mean probability %.4f, want the positive share 0.05",
			meanPlain)
	}
	if meanBalanced < 0.3 {
		t.Errorf("balanced mean probability %.4f, want near 0.5", meanBalanced)
	}
}

func TestFitLogisticOneClass(t *testing.T) {
	x := mat.NewDense(3, 1, []float64{1, 2, 3})
	if _, err := FitLogistic(x, []float64{0, 0, 0}, LogisticOptions{}); !errors.Is(err,
		ErrOneClass) {
		t.Errorf("error %v, want ErrOneClass", err)
	}
}

func TestResidualInterval(t *testing.T) {
	// gonum's linear interpolation puts the i-th smallest of n values at probability
	// i/n, so on 1, 2, …, 100 the p-quantile is 100·p exactly.
	res := make([]float64, 100)
	for i := range res {
		res[i] = float64(100 - i) // unsorted on purpose
	}
	res = append(res, math.NaN())
	cases := []struct {
		coverage, lower, upper float64
	}{
		{0.8, 10, 90}, {0.5, 25, 75}, {0.9, 5, 95},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.coverage), func(t *testing.T) {
			iv := ResidualInterval(res, c.coverage)
			if math.Abs(iv.Lower-c.lower) > 1e-9 || math.Abs(iv.Upper-c.upper) > 1e-9 {
				t.Errorf("interval [%v, %v], want [%v, %v]", iv.Lower, iv.Upper,
					c.lower, c.upper)
			}
		})
	}
}

func TestResidualIntervalCoversNormal(t *testing.T) {
	// On normal residuals the 80 % interval approaches ±1.2816 σ.
	rng := rand.New(rand.NewPCG(13, 14))
	res := make([]float64, 100000)
	for i := range res {
		res[i] = 0.3 * rng.NormFloat64()
	}
	iv := ResidualInterval(res, 0.8)
	want := 1.2816 * 0.3
	if math.Abs(iv.Upper-want) > 0.01 || math.Abs(iv.Lower+want) > 0.01 {
		t.Errorf("interval [%.4f, %.4f], want ±%.4f", iv.Lower, iv.Upper, want)
	}
}

func TestImputer(t *testing.T) {
	nan := math.NaN()
	x := mat.NewDense(4, 3, []float64{
		1, nan, 5,
		3, nan, 5,
		nan, nan, 5,
		5, nan, nan,
	})
	im := FitImputer(x)
	wantMeans := []float64{3, 0, 5}
	wantMissing := []int{1, 4, 1}
	if !slices.Equal(im.Means, wantMeans) || !slices.Equal(im.Missing, wantMissing) {
		t.Errorf("means %v missing %v, want %v and %v", im.Means, im.Missing,
			wantMeans, wantMissing)
	}
	filled := im.Fill(x)
	if filled.At(2, 0) != 3 || filled.At(0, 1) != 0 || filled.At(3, 2) != 5 ||
		filled.At(0, 0) != 1 {
		t.Errorf("filled %v", mat.Formatted(filled))
	}
	if !math.IsNaN(x.At(2, 0)) {
		t.Error("Fill changed its input")
	}
	if got := im.MissingShare()[1]; got != 1 {
		t.Errorf("missing share of the empty feature %v, want 1", got)
	}
}

func TestImputerBoundsToTrainingRange(t *testing.T) {
	// A column holding 1…1000: the 0.5 % and 99.5 % empirical quantiles are 5 and 995.
	train := mat.NewDense(1000, 1, nil)
	for i := range 1000 {
		train.Set(i, 0, float64(i+1))
	}
	im := FitImputer(train)
	if im.Lower[0] != 5 || im.Upper[0] != 995 {
		t.Fatalf("bounds [%v, %v], want [5, 995]", im.Lower[0], im.Upper[0])
	}
	got := im.Fill(mat.NewDense(3, 1, []float64{-50, 500, 5000}))
	if got.At(0, 0) != 5 || got.At(1, 0) != 500 || got.At(2, 0) != 995 {
		t.Errorf("filled %v, want 5, 500, 995", mat.Formatted(got.T()))
	}
}

func TestSplitAthletes(t *testing.T) {
	ids := make([]string, 60)
	for i := range ids {
		ids[i] = fmt.Sprintf("athlete-%02d", i)
	}
	for _, seed := range []uint64{1, 2, 42} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			train, test := SplitAthletes(ids, 0.25, seed)
			if len(test) != 15 || len(train) != 45 {
				t.Fatalf("%d train, %d test; want 45 and 15", len(train), len(test))
			}
			for _, id := range test {
				if slices.Contains(train, id) {
					t.Errorf("athlete %s on both sides", id)
				}
			}

			// The order of the ids and duplicates do not change the split.
			shuffled := append(slices.Clone(ids), ids[:5]...)
			slices.Reverse(shuffled)
			train2, test2 := SplitAthletes(shuffled, 0.25, seed)
			if !slices.Equal(train, train2) || !slices.Equal(test, test2) {
				t.Error("split depends on the order of the ids")
			}
		})
	}
	_, a := SplitAthletes(ids, 0.25, 1)
	_, b := SplitAthletes(ids, 0.25, 2)
	if slices.Equal(a, b) {
		t.Error("seeds 1 and 2 give the same test athletes")
	}
}

func TestRegress(t *testing.T) {
	y := []float64{1, 2, 3, 4, math.NaN()}
	pred := []float64{2, 2, 2, 6, 100}
	m := Regress(y, pred)
	// errors +1, 0, −1, +2 → MAE 1, RMSE √1.5, bias 0.5; SST 5 → R² 1 − 6/5.
	if m.N != 4 || m.MAE != 1 || math.Abs(m.RMSE-math.Sqrt(1.5)) > 1e-12 ||
		m.Bias != 0.5 || math.Abs(m.R2+0.2) > 1e-12 {
		t.Errorf("metrics %+v", m)
	}
	m = m.WithCoverage(y, []float64{0, 2.5, 2, 3, 0}, []float64{2, 3, 4, 5, 0})
	if m.Coverage == nil || *m.Coverage != 0.75 {
		t.Errorf("coverage %v, want 0.75", m.Coverage)
	}
}

func TestDetect(t *testing.T) {
	// Two sessions of 10 one-minute rows. Session a: a fault at minutes 3–5, alarmed
	// at 4–6 (the alarm running on past the fault is not a false alarm), and a false
	// alarm at 8. Session b: a missed fault at 0–1 and two false alarms, at 5 and 7.
	var when []Timeline
	for _, s := range []string{"a", "b"} {
		for m := range 10 {
			when = append(when, Timeline{Session: s, Minute: m})
		}
	}
	label := []float64{0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	score := []float64{0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0}
	m := Detect(score, label, when, 0.5, 1)
	if m.Events != 2 || m.EventsDetected != 1 || m.EventRecall != 0.5 {
		t.Errorf("events %d detected %d recall %v; want 2, 1, 0.5", m.Events,
			m.EventsDetected, m.EventRecall)
	}
	if m.FalseAlarms != 3 {
		t.Errorf("false alarms %d, want 3", m.FalseAlarms)
	}
	if want := 3 / (15.0 / 60); math.Abs(m.FalseAlarmsPerHour-want) > 1e-12 {
		t.Errorf("false alarms per hour %v, want %v", m.FalseAlarmsPerHour, want)
	}
	if m.RowRecall != 0.4 || m.RowPrecision != 2.0/6 {
		t.Errorf("row recall %v precision %v; want 0.4 and 1/3", m.RowRecall,
			m.RowPrecision)
	}
}
