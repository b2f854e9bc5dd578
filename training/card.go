package training

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"gonum.org/v1/gonum/stat"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
)

// Card is a model card: what a version is for, what it was trained on, how it
// compares with its baseline and where it should not be trusted. Its JSON form is
// the registry's card document; Markdown renders it for people.
type Card struct {
	Model       string          `json:"model"`
	Description string          `json:"description"`
	TrainedOn   string          `json:"trained_on"` // "simulated"
	Data        CardData        `json:"data"`
	Training    CardTraining    `json:"training"`
	Inputs      []InputCard     `json:"inputs"`
	Outputs     []models.Output `json:"outputs"`
	Evaluation  Evaluation      `json:"evaluation"`
	IntendedUse string          `json:"intended_use"`
	Limitations []string        `json:"limitations"`
}

// CardData describes the training data.
type CardData struct {
	Generator     string `json:"generator"`
	CohortSeed    uint64 `json:"cohort_seed"`
	Fingerprint   string `json:"sha256_of_manifest"`
	Athletes      int    `json:"athletes"`
	Sessions      int    `json:"sessions"`
	TrainAthletes int    `json:"train_athletes"`
	TestAthletes  int    `json:"test_athletes"`
}

// CardTraining describes the fit.
type CardTraining struct {
	Algorithm     string    `json:"algorithm"`
	Seed          uint64    `json:"seed"`
	CodeVersion   string    `json:"code_version"`
	SchemaVersion int       `json:"feature_schema_version"`
	TrainRows     int       `json:"train_rows"`
	Penalty       float64   `json:"penalty"`
	Threshold     float64   `json:"alarm_threshold,omitempty"`
	Interval      *Interval `json:"interval,omitempty"`
	// Sample says what a streamed run sampled (see FamilyReport.Sample).
	Sample *SampleReport `json:"sample,omitempty"`
}

// InputCard describes one input feature: its unit, the range the training rows
// spanned (1st to 99th percentile, the model's validity range; both 0 when the
// feature was always missing), how often it was missing and what stands in for it
// then.
type InputCard struct {
	Name         string  `json:"name"`
	Unit         string  `json:"unit"`
	P01          float64 `json:"train_p01"`
	P99          float64 `json:"train_p99"`
	Missing      int     `json:"train_missing"`
	MissingShare float64 `json:"train_missing_share"`
	Impute       float64 `json:"impute_value"`
}

// inputCards describes the inputs of m from its training rows x.
func inputCards(m *Model, x *Dataset) []InputCard {
	sc := features.CurrentSchema()
	share := m.Imputer.MissingShare()
	cards := make([]InputCard, len(m.Family.Features))
	for j, name := range m.Family.Features {
		c := InputCard{Name: name, Missing: m.Imputer.Missing[j], MissingShare: share[j],
			Impute: m.Imputer.Means[j]}
		if i, ok := sc.Index(name); ok {
			c.Unit = sc.Feature(i).Unit
		}
		var present []float64
		for _, v := range colOf(x.X, j) {
			if !math.IsNaN(v) {
				present = append(present, v)
			}
		}
		if len(present) > 0 {
			slices.Sort(present)
			c.P01 = stat.Quantile(0.01, stat.Empirical, present, nil)
			c.P99 = stat.Quantile(0.99, stat.Empirical, present, nil)
		}
		cards[j] = c
	}
	return cards
}

// familyUse holds each family's intended use and limitations.
var familyUse = map[string]struct {
	use         string
	limitations []string
}{
	models.SweatRate: {
		use: "Estimate an athlete's whole-body sweat rate during a training session, " +
			"with an 80 % prediction interval, to plan drinking. Decision support for " +
			"coaches and sports scientists, not a medical device.",
		limitations: []string{
			"The label is the session's mass-balance sweat rate, so a prediction early " +
				"in a session is for the whole session, not for the minutes so far.",
			"An athlete's own sweat propensity is not observable from the inputs; the " +
				"interval, built from cross-validated residuals of other athletes, is " +
				"wide for that reason. Calibrate per athlete with real weigh-ins.",
			"The interval's lower bound can fall below zero at low rates: read it as 0.",
			"The model leans on the fluid drunk so far, which in the simulator follows " +
				"the water lost by construction; real athletes drink less faithfully, and " +
				"without a logging bottle the input is missing and imputed.",
			"The Gonzalez baseline was fitted on people in military clothing; with " +
				"light kit and running air speeds it predicts little sweat, so beating " +
				"it is a low bar.",
			"The ECTemp core-temperature input is covered by US patent 10,702,165.",
		},
	},
	models.ThermalTrajectory: {
		use: "Project core temperature 15, 30 and 60 minutes ahead from wearable heart " +
			"rate, skin temperature and weather, to warn of rising heat strain before " +
			"it happens. Decision support, not a medical device.",
		limitations: []string{
			"Horizons past the end of a training session were never labelled.",
			"Heart rate reflects core temperature only through the ECTemp relation " +
				"(US patent 10,702,165); fever, medication or dehydration shift it.",
			"The metabolic-rate input is estimated from population equations and can " +
				"be off by a quarter for one athlete.",
		},
	},
	models.Anomaly: {
		use: "Score how unlike clean sensor data an athlete's last 5 minutes look, so " +
			"that faulty heart-rate or skin-temperature readings are flagged before " +
			"the other models use them. Raise an alarm at or above the threshold.",
		limitations: []string{
			"Trained on four simulated fault kinds (heart-rate dropouts, flat lines " +
				"and spikes; skin-sensor flat lines and detachment); other faults are " +
				"untested.",
			"A skin sensor stuck on a value is seen by how long the value repeats. " +
				"At whole-degree resolution (FIT files) a working sensor repeats its " +
				"value for minutes too, so short skin flat lines there go unseen; " +
				"evaluation does not count a flat line whose next reading rounds to " +
				"the stuck value, since the data do not show it.",
			"In a session's first five minutes the windows are partly empty, which " +
				"looks like a dropout; scores there are less reliable.",
			"The threshold was chosen on the training athletes' cross-validated " +
				"scores to bound false alarms per clean hour; other sensors or sports " +
				"may need another.",
		},
	},
}

// commonLimitations apply to every family.
var commonLimitations = []string{
	"Trained and evaluated on simulated data only; no real athlete's data was used. " +
		"Validate on real recordings before relying on it.",
	"Inputs outside the training range listed with each input are extrapolation.",
}

// Markdown renders the card for people.
func (c *Card) Markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	p("# %s\n\n%s.\n\n", c.Model, sentence(c.Description))
	if c.Data.Generator == trainingSetGenerator {
		p("**Trained on a training set** of %d athletes (data SHA-256 %s). Training "+
			"seed %d, code %s, feature schema v%d.\n\n", c.Data.Athletes,
			c.Data.Fingerprint, c.Training.Seed, c.Training.CodeVersion,
			c.Training.SchemaVersion)
	} else {
		p("**Trained on %s data** from generator %s, cohort seed %d (%d athletes, %d "+
			"sessions; manifest SHA-256 %s). Training seed %d, code %s, feature schema "+
			"v%d.\n\n", c.TrainedOn, c.Data.Generator, c.Data.CohortSeed,
			c.Data.Athletes, c.Data.Sessions, c.Data.Fingerprint, c.Training.Seed,
			c.Training.CodeVersion, c.Training.SchemaVersion)
	}

	p("## Intended use\n\n%s\n\n", c.IntendedUse)
	if sm := c.Training.Sample; sm != nil {
		fit := fmt.Sprintf("fitted on all %d training rows of %d athletes", sm.TrainRows,
			c.Data.TrainAthletes)
		if sm.FitOnSample {
			fit = fmt.Sprintf("fitted on a sample of %d of the %d training rows (whole "+
				"athletes)", sm.SampleTrainRows, sm.TrainRows)
		}
		p("## Model\n\n%s, penalty %g, %s; streamed. Evaluated on a sample of %d of "+
			"the %d rows of %d held-out athletes (whole athletes); input ranges and the "+
			"drift profile from a sample of %d training rows.\n", c.Training.Algorithm,
			c.Training.Penalty, fit, sm.SampleTestRows, sm.TestRows, c.Data.TestAthletes,
			sm.SampleTrainRows)
	} else {
		p("## Model\n\n%s, penalty %g, fitted on %d rows of %d athletes; evaluated on "+
			"%d rows of %d other athletes.\n", c.Training.Algorithm, c.Training.Penalty,
			c.Training.TrainRows, c.Data.TrainAthletes, c.Evaluation.Rows,
			c.Data.TestAthletes)
	}
	if c.Training.Threshold != 0 {
		p("Alarm threshold: %.4f.\n", c.Training.Threshold)
	}
	if iv := c.Training.Interval; iv != nil {
		p("Interval: prediction %+.3f to %+.3f (residual quantiles %.2f and %.2f).\n",
			iv.Lower, iv.Upper, iv.LowerP, iv.UpperP)
	}

	p("\n## Held-out evaluation against the baseline\n\n")
	c.markdownEvaluation(&b)

	p("\n## Inputs and validity ranges\n\n")
	p("| feature | unit | train 1st–99th pct | missing | impute |\n|---|---|---|---|---|\n")
	for _, in := range c.Inputs {
		p("| %s | %s | %.4g – %.4g | %.1f %% | %.4g |\n", in.Name, in.Unit, in.P01,
			in.P99, 100*in.MissingShare, in.Impute)
	}

	p("\n## Outputs\n\n")
	for _, o := range c.Outputs {
		p("- `%s` (%s): %s\n", o.Name, o.Unit, o.Doc)
	}
	p("\n## Known limitations\n\n")
	for _, l := range c.Limitations {
		p("- %s\n", l)
	}
	return b.String()
}

func (c *Card) markdownEvaluation(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if d := c.Evaluation.Detection; d != nil {
		p("| | event recall | row precision | false alarms / clean h |\n|---|---|---|---|\n")
		for _, r := range []struct {
			name string
			m    DetectionMetrics
		}{{"model", d.Model}, {"rule baseline", d.Baseline}} {
			p("| %s | %.3f | %.3f | %.3f |\n", r.name, r.m.EventRecall, r.m.RowPrecision,
				r.m.FalseAlarmsPerHour)
		}
	}
	if len(c.Evaluation.Outputs) > 0 {
		p("| output | MAE | RMSE | R² | bias | coverage | baseline MAE | baseline RMSE |\n")
		p("|---|---|---|---|---|---|---|---|\n")
		for _, o := range c.Evaluation.Outputs {
			cov := "–"
			if o.Model.Coverage != nil {
				cov = fmt.Sprintf("%.3f", *o.Model.Coverage)
			}
			p("| %s | %.3f | %.3f | %.3f | %+.3f | %s | %.3f | %.3f |\n", o.Name,
				o.Model.MAE, o.Model.RMSE, o.Model.R2, o.Model.Bias, cov, o.Baseline.MAE,
				o.Baseline.RMSE)
		}
	}
	p("\nGoals:\n\n")
	for _, g := range c.Evaluation.Goals {
		mark := "met"
		if !g.Met {
			mark = "NOT met"
		}
		p("- %s: %s (%s)\n", g.Name, mark, g.Detail)
	}
}

// sentence returns s with its first letter upper-cased.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
