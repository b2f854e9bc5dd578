package training

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hydrocast/hydrocast/models"
)

func TestParseGate(t *testing.T) {
	cases := []struct {
		in   string
		want Gate
		err  string // part of the error; empty for none
	}{
		{in: "mae_vs_baseline < 1.0", want: Gate{Metric: "mae_vs_baseline", Op: "<", Value: 1}},
		{in: "mae_vs_production<=1.02",
			want: Gate{Metric: "mae_vs_production", Op: "<=", Value: 1.02}},
		{in: " anomaly : event_recall >= 0.9 ",
			want: Gate{Family: "anomaly", Metric: "event_recall", Op: ">=", Value: 0.9}},
		{in: "coverage > 0.75", want: Gate{Metric: "coverage", Op: ">", Value: 0.75}},
		{in: "mae_vs_baseline = 1", err: "want \"[family:]metric op number\""},
		{in: "mae_vs_basline < 1", err: `unknown metric "mae_vs_basline"`},
		{in: "mae < one", err: `"one" is not a finite number`},
		{in: "mae < NaN", err: "is not a finite number"},
		{in: "mae < -Inf", err: "is not a finite number"},
		{in: "anomaly:mae < 1", err: `family "anomaly" has no metric mae`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			g, err := ParseGate(c.in)
			if c.err != "" {
				if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want ErrGate saying %q", err, c.err)
				}
				return
			}
			if err != nil || g != c.want {
				t.Fatalf("got %+v, %v; want %+v", g, err, c.want)
			}
			again, err := ParseGate(g.String())
			if err != nil || again != g {
				t.Errorf("String %q reads back as %+v, %v", g.String(), again, err)
			}
		})
	}
}

func TestCheckGates(t *testing.T) {
	gates := []Gate{
		{Metric: "mae_vs_baseline", Op: "<", Value: 1},
		{Metric: "mae_vs_production", Op: "<=", Value: 1.02},
		{Family: models.Anomaly, Metric: "event_recall", Op: ">=", Value: 0.9},
	}
	ev := Evaluation{Outputs: []OutputReport{{
		Model:    RegressionMetrics{N: 10, MAE: 0.2, RMSE: 0.3},
		Baseline: RegressionMetrics{N: 10, MAE: 0.4, RMSE: 0.5},
	}}}

	t.Run("no baseline in the data", func(t *testing.T) {
		none := Evaluation{Outputs: []OutputReport{{
			Model: RegressionMetrics{N: 10, MAE: 0.2, RMSE: 0.3}}}}
		got := checkGates(gates[:1], models.SweatRate, gateMetrics(none, nil), nil)
		if len(got) != 1 || got[0].Passed || !strings.Contains(got[0].Detail,
			LabelSweatBaseline) {
			t.Errorf("results %+v, want a failed gate naming the missing baseline", got)
		}
	})

	t.Run("no production version", func(t *testing.T) {
		got := checkGates(gates, models.SweatRate, gateMetrics(ev, nil), nil)
		if len(got) != 2 || !got[0].Passed || got[0].Value != 0.5 || !got[1].Passed ||
			!strings.Contains(got[1].Detail, "no production") {
			t.Errorf("results %+v", got)
		}
	})
	t.Run("worse than production", func(t *testing.T) {
		prod := &ProductionComparison{Version: 4, Outputs: []RegressionMetrics{{MAE: 0.1}}}
		got := checkGates(gates, models.SweatRate, gateMetrics(ev, prod), prod)
		if len(got) != 2 || got[1].Passed || got[1].Value != 2 {
			t.Errorf("results %+v", got)
		}
	})
	t.Run("production not comparable", func(t *testing.T) {
		prod := &ProductionComparison{Version: 4, Error: "reads feature x"}
		got := checkGates(gates, models.SweatRate, gateMetrics(ev, prod), prod)
		if got[1].Passed || !strings.Contains(got[1].Detail, "reads feature x") {
			t.Errorf("results %+v", got)
		}
	})
	t.Run("family filter", func(t *testing.T) {
		det := Evaluation{Detection: &DetectionReport{Model: DetectionMetrics{
			EventRecall: 0.8}, Baseline: DetectionMetrics{EventRecall: 0.4}}}
		got := checkGates(gates, models.Anomaly, gateMetrics(det, nil), nil)
		if len(got) != 1 || got[0].Passed || got[0].Value != 0.8 {
			t.Errorf("results %+v", got)
		}
	})
}

func TestQuotientStaysFinite(t *testing.T) {
	if q := quotient(1, 0); math.IsInf(q, 0) || q != math.MaxFloat64 {
		t.Errorf("quotient(1, 0) = %v", q)
	}
	if q := quotient(0, 0); q != 1 {
		t.Errorf("quotient(0, 0) = %v", q)
	}
}

func FuzzParseGate(f *testing.F) {
	for _, s := range []string{"mae_vs_baseline < 1.0", "anomaly:event_recall >= 0.9",
		"x", "<", "rmse <= 1e309", ":mae<1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGate(s)
		if err != nil {
			if !errors.Is(err, ErrGate) {
				t.Fatalf("error %v does not wrap ErrGate", err)
			}
			return
		}
		if err := g.Check(); err != nil {
			t.Fatalf("parsed gate %+v fails its check: %v", g, err)
		}
		again, err := ParseGate(g.String())
		if err != nil || again.Metric != g.Metric || again.Op != g.Op ||
			again.Family != g.Family {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, g, g.String(), again, err)
		}
	})
}

func TestMassBalanceSweatRate(t *testing.T) {
	// science.md §3: 70.0 → 68.8 kg, 0.75 L drunk, 0.10 L urine over 1.5 h.
	got := MassBalanceSweatRate(70.0, 68.8, 0.75, 0.10, 1.5)
	if math.Abs(got-1.2333) > 1e-3 {
		t.Errorf("sweat rate %v L/h, want 1.233", got)
	}
	if err := (Labels{SweatRate: "scale"}).Check(); err == nil ||
		!strings.Contains(err.Error(), `"scale"`) {
		t.Errorf("unknown label definition: error %v", err)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	got := clip(long, 1000)
	if len(got) > 1000 || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("clip gave %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if clip("short", 1000) != "short" {
		t.Error("clip changed a short reason")
	}
}

func TestRunRefusesGatesNoTrainedFamilyReads(t *testing.T) {
	o := Options{Data: "cohort", Families: []string{models.SweatRate}}
	for _, gate := range []string{"false_alarms_per_hour <= 1", "anomaly:event_recall >= 0.9"} {
		g, err := ParseGate(gate)
		if err != nil {
			t.Fatal(err)
		}
		o.Gates = []Gate{g}
		if err := o.withDefaults().check(); !errors.Is(err, ErrGate) {
			t.Errorf("gate %q on a sweat-rate-only run: %v, want ErrGate", gate, err)
		}
	}
	g, _ := ParseGate("mae_vs_baseline < 1")
	o.Gates = []Gate{g}
	if err := o.withDefaults().check(); err != nil {
		t.Errorf("a gate sweat-rate reads: %v", err)
	}
}
