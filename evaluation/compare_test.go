package evaluation

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// simulated returns labels and two versions' predictions: A with N(0, 1) errors and
// B with N(0, sdB²) errors, on n rows in sessions of four.
func simulated(rng *rand.Rand, n int, sdB float64) (a, b Predictions) {
	y := make([]float64, n)
	pa, pb := make([]float64, n), make([]float64, n)
	groups := make([]string, n)
	for i := range y {
		y[i] = 1.2 + 0.5*rng.NormFloat64()
		pa[i] = y[i] + rng.NormFloat64()
		pb[i] = y[i] + sdB*rng.NormFloat64()
		groups[i] = fmt.Sprint(i / 4)
	}
	return Predictions{Label: y, Pred: pa, Group: groups},
		Predictions{Label: y, Pred: pb, Group: groups}
}

func TestCompareHandCase(t *testing.T) {
	// B halves every error of A, so every resample has B's MAE at half of A's.
	a := Predictions{Label: []float64{1, 2, 3, 4, 5, 6}, Pred: []float64{2, 1, 5, 4, 2, 7}}
	b := Predictions{Label: a.Label, Pred: []float64{1.5, 1.5, 4, 4, 3.5, 6.5}}
	c, err := Compare(a, b, BootstrapOptions{Resamples: 500, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mae := c.Differences[0]
	// A's absolute errors 1, 1, 2, 0, 3, 1: MAE 8/6; B's are half.
	if mae.Metric != MetricMAE || !near(mae.A, 8.0/6, 1e-12) || !near(mae.Diff, -4.0/6, 1e-12) {
		t.Errorf("MAE difference %+v", mae)
	}
	if mae.Upper >= 0 || mae.Better != "b" || c.Rows != 6 || c.Groups != 6 {
		t.Errorf("want a negative interval favouring b over 6 rows: %+v, %d rows", mae, c.Rows)
	}
}

func TestCompareDeterministic(t *testing.T) {
	a, b := simulated(rand.New(rand.NewPCG(1, 1)), 200, 1.2)
	c1, err := Compare(a, b, BootstrapOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := Compare(a, b, BootstrapOptions{Seed: 7})
	c3, _ := Compare(a, b, BootstrapOptions{Seed: 8})
	if !reflect.DeepEqual(c1, c2) {
		t.Error("the same seed gave different results")
	}
	if reflect.DeepEqual(c1.Differences, c3.Differences) {
		t.Error("another seed gave identical intervals")
	}
	if c1.Groups != 50 || c1.Method != "paired percentile bootstrap over groups" {
		t.Errorf("%d groups, method %q", c1.Groups, c1.Method)
	}
}

func TestCompareCoversTrueDifference(t *testing.T) {
	// With A's errors N(0, 1) and B's N(0, 1.2²), the true MAEs are √(2/π) and
	// 1.2·√(2/π). A 90 % interval should cover their difference in about 90 % of
	// simulated studies.
	want := 0.2 * math.Sqrt(2/math.Pi)
	rng := rand.New(rand.NewPCG(2, 3))
	const studies = 300
	covered := 0
	for s := range studies {
		a, b := simulated(rng, 240, 1.2)
		c, err := Compare(a, b, BootstrapOptions{Resamples: 400, Confidence: 0.9,
			Seed: uint64(s)})
		if err != nil {
			t.Fatal(err)
		}
		if d := c.Differences[0]; d.Lower <= want && want <= d.Upper {
			covered++
		}
	}
	// Binomial(300, 0.9) has a standard deviation of 0.017; allow about three.
	if rate := float64(covered) / studies; rate < 0.85 || rate > 0.95 {
		t.Errorf("the 90 %% interval covered the true difference in %.3f of studies", rate)
	}
}

func TestCompareRejectsUnpairedRows(t *testing.T) {
	a := Predictions{Label: []float64{1, 2}, Pred: []float64{1, 2}}
	tests := []struct {
		name string
		b    Predictions
		want error
	}{
		{"other labels", Predictions{Label: []float64{1, 3}, Pred: []float64{1, 2}}, ErrShape},
		{"other length", Predictions{Label: []float64{1}, Pred: []float64{1}}, ErrShape},
		{"nothing usable", Predictions{Label: []float64{1, 2},
			Pred: []float64{math.NaN(), math.NaN()}}, ErrNoRows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Compare(a, tt.b, BootstrapOptions{}); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
