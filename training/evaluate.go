package training

import (
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/models"
)

// Goals a family's held-out metrics are checked against.
const (
	GoalCoverageLow        = 0.75 // sweat interval coverage, lowest acceptable
	GoalCoverageHigh       = 0.85 // and highest
	GoalEventRecall        = 0.9  // anomaly: share of fault events alarmed
	GoalFalseAlarmsPerHour = 1.0  // anomaly: false alarms per clean athlete-hour
)

// OutputReport compares one regression output of a model with its baseline on the
// held-out athletes.
type OutputReport struct {
	Name     string            `json:"name"`
	Model    RegressionMetrics `json:"model"`
	Baseline RegressionMetrics `json:"baseline"`
}

// DetectionReport compares a classifier's alarms with the baseline rule's on the
// held-out athletes.
type DetectionReport struct {
	Model    DetectionMetrics `json:"model"`
	Baseline DetectionMetrics `json:"baseline"`
}

// Goal is one acceptance goal and whether the held-out metrics meet it.
type Goal struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// Evaluation is a model's comparison with its baseline on held-out athletes.
type Evaluation struct {
	Rows      int              `json:"rows"`
	Outputs   []OutputReport   `json:"outputs,omitempty"`   // regression families
	Detection *DetectionReport `json:"detection,omitempty"` // the anomaly family
	Goals     []Goal           `json:"goals"`

	// CrossValidated is the sweat interval's coverage over all athletes, which its
	// coverage goal is checked on; nil for the other families.
	CrossValidated *CrossValidation `json:"cross_validated,omitempty"`
}

// coverageGoal names the sweat interval's coverage goal.
const coverageGoal = "80 % interval covers 75–85 % of labels of athletes unseen in fitting"

// Evaluate scores m and the family's baseline on the held-out dataset test and checks
// the family's goals.
func Evaluate(m *Model, test *Dataset) Evaluation {
	pred := m.Predict(test.X)
	ev := Evaluation{Rows: test.Rows()}
	switch m.Family.Name {
	case models.SweatRate:
		ev.Outputs, ev.Goals = evaluateSweat(m.Family, test, pred)
	case models.ThermalTrajectory:
		ev.Outputs, ev.Goals = evaluateThermal(m.Family, test, pred)
	case models.Anomaly:
		ev.Detection, ev.Goals = evaluateAnomaly(m, test, pred)
	}
	return ev
}

func evaluateSweat(f models.Family, test *Dataset, pred *mat.Dense) ([]OutputReport,
	[]Goal) {
	y := mat.Col(nil, 0, test.Y)
	out := OutputReport{
		Name: f.Outputs[0].Name,
		Model: Regress(y, mat.Col(nil, 0, pred)).WithCoverage(y, mat.Col(nil, 1, pred),
			mat.Col(nil, 2, pred)),
		Baseline: Regress(y, mat.Col(nil, 0, test.Baseline)),
	}
	cov := *out.Model.Coverage
	beats := Goal{
		Name: "sweat MAE below the Gonzalez baseline",
		Met:  out.Model.MAE < out.Baseline.MAE,
		Detail: fmt.Sprintf("MAE %.3f L/h, baseline %.3f L/h", out.Model.MAE,
			out.Baseline.MAE),
	}
	if out.Baseline.N == 0 {
		beats.Met = false
		beats.Detail = fmt.Sprintf("MAE %.3f L/h; the data gives no baseline (%s)",
			out.Model.MAE, LabelSweatBaseline)
	}
	goals := []Goal{
		beats,
		{
			Name:   coverageGoal,
			Met:    cov >= GoalCoverageLow && cov <= GoalCoverageHigh,
			Detail: fmt.Sprintf("coverage %.3f", cov),
		},
	}
	return []OutputReport{out}, goals
}

func evaluateThermal(f models.Family, test *Dataset, pred *mat.Dense) ([]OutputReport,
	[]Goal) {
	var outs []OutputReport
	var goals []Goal
	for j, o := range f.Outputs {
		y := mat.Col(nil, j, test.Y)
		r := OutputReport{
			Name:     o.Name,
			Model:    Regress(y, mat.Col(nil, j, pred)),
			Baseline: Regress(y, mat.Col(nil, j, test.Baseline)),
		}
		outs = append(outs, r)
		goals = append(goals, Goal{
			Name: o.Name + " RMSE below the flat ECTemp baseline",
			Met:  r.Model.RMSE < r.Baseline.RMSE,
			Detail: fmt.Sprintf("RMSE %.3f °C, baseline %.3f °C (%d rows)", r.Model.RMSE,
				r.Baseline.RMSE, r.Model.N),
		})
	}
	return outs, goals
}

func evaluateAnomaly(m *Model, test *Dataset, pred *mat.Dense) (*DetectionReport,
	[]Goal) {
	label := mat.Col(nil, 0, test.Y)
	d := &DetectionReport{
		Model: Detect(mat.Col(nil, 0, pred), label, test.When, m.Threshold, anomalyEvery),
		Baseline: Detect(mat.Col(nil, 0, test.Baseline), label, test.When, 0.5,
			anomalyEvery),
	}
	goals := []Goal{
		{
			Name: fmt.Sprintf("fault events detected ≥ %.0f %%", 100*GoalEventRecall),
			Met:  d.Model.EventRecall >= GoalEventRecall,
			Detail: fmt.Sprintf("%d of %d (%.3f); rule %.3f", d.Model.EventsDetected,
				d.Model.Events, d.Model.EventRecall, d.Baseline.EventRecall),
		},
		{
			Name: fmt.Sprintf("false alarms ≤ %.0f per clean athlete-hour",
				GoalFalseAlarmsPerHour),
			Met: d.Model.FalseAlarmsPerHour <= GoalFalseAlarmsPerHour,
			Detail: fmt.Sprintf("%.3f per hour over %.1f h; rule %.3f",
				d.Model.FalseAlarmsPerHour, d.Model.CleanHours,
				d.Baseline.FalseAlarmsPerHour),
		},
	}
	return d, goals
}
