package training

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/training/simulate"
)

// athleteEffectDataset is a sweat dataset whose labels carry a per-athlete offset on
// top of row noise, the structure that makes one small held-out split a poor judge
// of an interval's coverage.
func athleteEffectDataset(athletes, rowsEach int, seed uint64) *Dataset {
	f, _ := models.FamilyByName(models.SweatRate)
	rng := rand.New(rand.NewPCG(seed, 7))
	k := len(f.Features)
	n := athletes * rowsEach
	d := &Dataset{Family: f, X: mat.NewDense(n, k, nil), Y: mat.NewDense(n, 1, nil),
		Baseline: mat.NewDense(n, 1, nil)}
	for a := range athletes {
		id := string(rune('A'+a%26)) + string(rune('a'+a/26))
		offset := 0.3 * rng.NormFloat64()
		for r := range rowsEach {
			i := a*rowsEach + r
			var sum float64
			for j := range k {
				x := rng.NormFloat64()
				sum += x
				d.X.Set(i, j, x)
			}
			d.Y.Set(i, 0, 1+0.1*sum+offset+0.1*rng.NormFloat64())
			d.Athletes = append(d.Athletes, id)
			d.When = append(d.When, Timeline{Session: id, Minute: r})
		}
	}
	return d
}

func TestCrossValidateCoverageIsNominal(t *testing.T) {
	d := athleteEffectDataset(80, 20, 3)
	cv, err := CrossValidateCoverage(d, 5, FitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if cv.Rows != d.Rows() || cv.Folds != 5 {
		t.Errorf("rows %d folds %d, want %d and 5", cv.Rows, cv.Folds, d.Rows())
	}
	// 80 athletes: the estimate's spread is a few points; an interval from in-sample
	// residuals would cover far less, one ignoring the athlete offsets far more.
	if math.Abs(cv.Coverage-0.8) > 0.06 {
		t.Errorf("cross-validated coverage %.3f, want 0.80 ± 0.06", cv.Coverage)
	}
}

func TestCrossValidateCoverageRefusesOtherFamilies(t *testing.T) {
	d := syntheticDataset(t, models.ThermalTrajectory, 50)
	if _, err := CrossValidateCoverage(d, 5, FitOptions{}); err == nil {
		t.Error("thermal family: no error")
	}
}

func TestCheckCoverageUsesCrossValidation(t *testing.T) {
	split := 0.9
	ev := Evaluation{
		Outputs: []OutputReport{{Model: RegressionMetrics{Coverage: &split}}},
		Goals:   []Goal{{Name: coverageGoal, Met: false}},
	}
	checkCoverage(&ev, CrossValidation{Folds: 5, Rows: 1000, Coverage: 0.81})
	if !ev.Goals[0].Met || ev.CrossValidated == nil || ev.CrossValidated.Coverage != 0.81 {
		t.Errorf("goal %+v, cross-validated %+v", ev.Goals[0], ev.CrossValidated)
	}
	checkCoverage(&ev, CrossValidation{Folds: 5, Rows: 1000, Coverage: 0.9})
	if ev.Goals[0].Met {
		t.Errorf("coverage 0.9 met the goal: %+v", ev.Goals[0])
	}
}

func TestVisibleFaults(t *testing.T) {
	t0 := time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)
	skin := func(sec int, c float64) features.Reading {
		r := features.NewReading("a", simulate.SourceWatch, t0.Add(time.Duration(sec)*time.Second))
		r.Set(features.SkinTemp, c)
		return r
	}
	// Whole degrees: stuck at 33 from 60 s to 150 s; the reading after is 33 in one
	// recording (hidden) and 34 in the other (visible).
	hidden := []features.Reading{skin(0, 33), skin(30, 33), skin(60, 33), skin(90, 33),
		skin(120, 33), skin(150, 33), skin(180, 33)}
	shown := append([]features.Reading(nil), hidden...)
	shown[6] = skin(180, 34)
	flat := simulate.Fault{Kind: simulate.FlatLine, Signal: features.SkinTemp,
		Source: simulate.SourceWatch, Start: t0.Add(60 * time.Second),
		End: t0.Add(150 * time.Second)}
	spike := simulate.Fault{Kind: simulate.Spike, Signal: features.HeartRate,
		Source: simulate.SourceWatch, Start: t0, End: t0}
	faults := []simulate.Fault{flat, spike}

	if got := visibleFaults(faults, hidden, true); len(got) != 1 || got[0].Kind != simulate.Spike {
		t.Errorf("whole degrees, same after: %v, want the spike only", got)
	}
	if got := visibleFaults(faults, shown, true); len(got) != 2 {
		t.Errorf("whole degrees, changed after: %d faults, want 2", len(got))
	}
	if got := visibleFaults(faults, hidden, false); len(got) != 2 {
		t.Errorf("fine resolution: %d faults, want 2", len(got))
	}
}
