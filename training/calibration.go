package training

import (
	"fmt"
	"math"

	"github.com/hydrocast/hydrocast/models"
)

// CrossValidation is the sweat interval's coverage estimated over every athlete of a
// cohort: the athletes are split into folds, and each fold's rows are predicted by a
// model fitted, interval included, on the other folds only. One held-out split of a
// small cohort measures coverage poorly, because an athlete's errors share a sign and
// a size: with 15 held-out athletes the share swings by about ±0.05 from split to
// split. Over all athletes the estimate is several times steadier.
type CrossValidation struct {
	Folds    int     `json:"folds"`
	Rows     int     `json:"rows"`
	Coverage float64 `json:"coverage"`
	// Sampled is set when the rows are samples of whole athletes of a streamed
	// run, not every row.
	Sampled bool `json:"sampled,omitempty"`
}

// CrossValidateCoverage estimates the sweat interval's coverage over all of d's
// athletes with folds athlete folds (zero means 5), fitting each fold's model as
// FitSweat does with o.
func CrossValidateCoverage(d *Dataset, folds int, o FitOptions) (CrossValidation, error) {
	if d.Family.Name != models.SweatRate {
		return CrossValidation{}, fmt.Errorf("cross-validated coverage: family %s has no "+
			"interval", d.Family.Name)
	}
	if folds == 0 {
		folds = 5
	}
	// A seed apart from the fit's own folds, so that the outer and inner splits differ.
	assign := athleteFolds(d.Athletes, folds, o.Seed^0x9e3779b97f4a7c15)
	cv := CrossValidation{Folds: folds}
	inside := 0
	for k := range folds {
		train, test := map[string]bool{}, map[string]bool{}
		for a, f := range assign {
			if f == k {
				test[a] = true
			} else {
				train[a] = true
			}
		}
		tr, te := d.Subset(train), d.Subset(test)
		if tr.Rows() == 0 || te.Rows() == 0 {
			continue
		}
		m, err := FitSweat(tr, o)
		if err != nil {
			return CrossValidation{}, fmt.Errorf("cross-validated coverage, fold %d: %w",
				k, err)
		}
		pred := m.Predict(te.X)
		for i := range te.Rows() {
			y := te.Y.At(i, 0)
			if math.IsNaN(y) {
				continue
			}
			cv.Rows++
			if y >= pred.At(i, 1) && y <= pred.At(i, 2) {
				inside++
			}
		}
	}
	if cv.Rows == 0 {
		return CrossValidation{}, fmt.Errorf("cross-validated coverage: %w", ErrTooFewRows)
	}
	cv.Coverage = float64(inside) / float64(cv.Rows)
	return cv, nil
}

// checkCoverage sets the sweat evaluation's coverage goal from the cross-validated
// estimate, keeping the held-out split's share in the goal's detail.
func checkCoverage(ev *Evaluation, cv CrossValidation) {
	ev.CrossValidated = &cv
	for i := range ev.Goals {
		g := &ev.Goals[i]
		if g.Name != coverageGoal {
			continue
		}
		split := ""
		if len(ev.Outputs) > 0 && ev.Outputs[0].Model.Coverage != nil {
			split = fmt.Sprintf("; held-out split %.3f", *ev.Outputs[0].Model.Coverage)
		}
		g.Met = cv.Coverage >= GoalCoverageLow && cv.Coverage <= GoalCoverageHigh
		over := "all"
		if cv.Sampled {
			over = "a sample of whole athletes,"
		}
		g.Detail = fmt.Sprintf("coverage %.3f over %s %d rows, %d athlete folds%s",
			cv.Coverage, over, cv.Rows, cv.Folds, split)
	}
}
