package evaluation

import (
	"errors"
	"math"
	"testing"
)

// tSurvival2 returns the two-sided tail P(|T| > t) of Student's t with nu degrees of
// freedom by Simpson integration of its density, independent of gonum.
func tSurvival2(t, nu float64) float64 {
	lg1, _ := math.Lgamma((nu + 1) / 2)
	lg2, _ := math.Lgamma(nu / 2)
	c := math.Exp(lg1-lg2) / math.Sqrt(nu*math.Pi)
	pdf := func(x float64) float64 { return c * math.Pow(1+x*x/nu, -(nu+1)/2) }
	const steps = 20000
	h := t / steps
	sum := pdf(0) + pdf(t)
	for i := 1; i < steps; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		sum += w * pdf(float64(i)*h)
	}
	return 1 - 2*sum*h/3
}

func TestAnalyzeABWelch(t *testing.T) {
	// Labels 0: A's absolute errors are 1..5 (mean 3, variance 2.5), B's 2, 4, …, 10
	// (mean 6, variance 10). Welch: se = √(2.5/5 + 10/5) = √2.5, t = 3/√2.5,
	// df = 2.5² / (0.5²/4 + 2²/4) = 5.8824.
	a := Predictions{Label: make([]float64, 5), Pred: []float64{1, -2, 3, -4, 5}}
	b := Predictions{Label: make([]float64, 5), Pred: []float64{2, 4, -6, 8, 10}}
	r, err := AnalyzeAB(a, b, ABOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tStat, df := 3/math.Sqrt(2.5), 6.25/(0.0625+1)
	if !near(r.Diff, 3, 1e-12) || !near(r.DF, df, 1e-9) || r.A.Sessions != 5 {
		t.Errorf("diff %v df %v sessions %d; want 3, %v, 5", r.Diff, r.DF, r.A.Sessions, df)
	}
	if want := tSurvival2(tStat, df); !near(r.PValue, want, 1e-6) {
		t.Errorf("p = %v, want %v", r.PValue, want)
	}
	// The interval's half-width is the t quantile times se: p at the bound is α.
	half := (r.Upper - r.Lower) / 2
	if !near(tSurvival2(half/math.Sqrt(2.5), df), 0.05, 1e-6) || !near(r.Lower+half, 3, 1e-12) {
		t.Errorf("interval [%v, %v] is not the 95 %% Welch interval", r.Lower, r.Upper)
	}
	if r.Conclusive || r.Better != "" {
		t.Errorf("p %v should not be conclusive", r.PValue)
	}
	// n = (1.959964 + 0.841621)² · (2.5 + 10) / 3² = 10.9 → 11 per arm, 6 more each.
	if p := r.Power; p.SessionsPerArm == nil || *p.SessionsPerArm != 11 || *p.MoreSessions != 12 {
		t.Errorf("power advice %+v, want 11 per arm and 12 more", p)
	}
}

func TestAnalyzeABSessions(t *testing.T) {
	// Two sessions per arm; the outcome is each session's mean absolute error.
	a := Predictions{Label: []float64{0, 0, 0, 0}, Pred: []float64{1, 3, 4, 4},
		Group: []string{"s1", "s1", "s2", "s2"}}
	b := Predictions{Label: []float64{0, 0, 0}, Pred: []float64{1, 1, 2},
		Group: []string{"t1", "t2", "t2"}}
	r, err := AnalyzeAB(a, b, ABOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.A.Sessions != 2 || r.A.Mean != 3 || r.B.Sessions != 2 || r.B.Mean != 1.25 ||
		r.A.Metrics.N != 4 {
		t.Errorf("arms %+v and %+v", r.A, r.B)
	}
}

func TestAnalyzeABEdgeCases(t *testing.T) {
	one := Predictions{Label: []float64{0, 0}, Pred: []float64{1, 2}, Group: []string{"s", "s"}}
	two := Predictions{Label: []float64{0, 0}, Pred: []float64{1, 2}}
	if _, err := AnalyzeAB(one, two, ABOptions{}); !errors.Is(err, ErrNotEnoughData) {
		t.Errorf("one session: err = %v, want ErrNotEnoughData", err)
	}

	same, err := AnalyzeAB(two, two, ABOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if same.PValue != 1 || same.Power.SessionsPerArm != nil || same.Power.Note == "" {
		t.Errorf("identical arms: p %v, power %+v", same.PValue, same.Power)
	}

	constA := Predictions{Label: []float64{0, 0, 0}, Pred: []float64{1, 1, 1}}
	constB := Predictions{Label: []float64{0, 0, 0}, Pred: []float64{2, 2, 2}}
	r, err := AnalyzeAB(constA, constB, ABOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.PValue != 0 || !r.Conclusive || r.Better != "a" || r.Lower != 1 || r.Upper != 1 {
		t.Errorf("constant arms: %+v", r)
	}
}
