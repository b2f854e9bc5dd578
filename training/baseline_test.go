package training

import (
	"math"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models/physio"
	"github.com/hydrocast/hydrocast/training/simulate"
)

// vectorWith returns a vector whose named features are present with the given values
// and every other feature missing.
func vectorWith(t *testing.T, values map[string]float64) *features.Vector {
	t.Helper()
	v := features.NewVector()
	for name, x := range values {
		i, ok := features.CurrentSchema().Index(name)
		if !ok {
			t.Fatalf("no feature %s", name)
		}
		v.Values[i], v.Status[i] = x, features.StatusPresent
	}
	return v
}

func TestRuleAnomalyScore(t *testing.T) {
	clean := map[string]float64{
		"heart_rate_bpm_min_5m": 140, "heart_rate_bpm_max_5m": 152,
		"heart_rate_bpm_mean_15m": 145, "heart_rate_bpm_coverage_5m": 1,
		"heart_rate_bpm_std_5m": 3.5, "skin_temp_c_std_5m": 0.1,
		"skin_temp_c_slope_5m": 0.02,
	}
	with := func(name string, x float64) map[string]float64 {
		m := map[string]float64{}
		for k, v := range clean {
			m[k] = v
		}
		m[name] = x
		return m
	}
	cases := []struct {
		name   string
		values map[string]float64
		want   float64
	}{
		{"clean", clean, 0},
		{"heart rate too low", with("heart_rate_bpm_min_5m", 30), 1},
		{"heart rate too high", with("heart_rate_bpm_max_5m", 230), 1},
		{"heart rate jump", with("heart_rate_bpm_max_5m", 195), 1},
		{"heart rate dropout", with("heart_rate_bpm_coverage_5m", 0.6), 1},
		{"heart rate flat", with("heart_rate_bpm_std_5m", 0), 1},
		{"skin temperature flat", with("skin_temp_c_std_5m", 0), 1},
		{"skin sensor falling off", with("skin_temp_c_slope_5m", -1.2), 1},
		{"no heart rate at all", with("heart_rate_bpm_coverage_5m", math.NaN()), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := vectorWith(t, c.values)
			if c.name == "no heart rate at all" {
				i, _ := features.CurrentSchema().Index("heart_rate_bpm_coverage_5m")
				v.Status[i] = features.StatusMissing
			}
			if got := RuleAnomalyScore(v); got != c.want {
				t.Errorf("score %v, want %v", got, c.want)
			}
		})
	}
}

func TestFlatCoreTemp(t *testing.T) {
	v := vectorWith(t, map[string]float64{"core_temp_ectemp_c": 38.2})
	if got := FlatCoreTemp(v); got != 38.2 {
		t.Errorf("with an estimate: %v, want 38.2", got)
	}
	if got := FlatCoreTemp(features.NewVector()); got != physio.ECTempDefaultCT {
		t.Errorf("without one: %v, want ECTemp's start %v", got, physio.ECTempDefaultCT)
	}
}

func TestGonzalezSweatRate(t *testing.T) {
	start := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	a := simulate.Athlete{ID: "a", Sport: simulate.Running, MassKg: 70, HeightM: 1.78}
	session := func(ta, met float64) simulate.Session {
		return simulate.Session{Start: start, End: start.Add(time.Hour), MeanAmbientC: ta,
			MeanRadiantC: ta, MeanHumidityPct: 40, MeanWindMPerS: 0.3,
			MeanMetabolicWPerM2: met}
	}
	rate := func(ta, met float64) float64 {
		s := session(ta, met)
		r, err := GonzalezSweatRate(&a, &s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// Moderate work in warm, still air sweats within the published athletic range
	// (Baker 2016: 0.26 to 5.73 L/h), and more heat or more work means more sweat.
	warm := rate(28, 350)
	if warm < 0.26 || warm > 3 {
		t.Errorf("28 °C, 350 W/m²: %.3f L/h, outside the athletic range", warm)
	}
	if hot := rate(35, 350); hot <= warm {
		t.Errorf("35 °C: %.3f L/h, not above %.3f at 28 °C", hot, warm)
	}
	if hard := rate(28, 450); hard <= warm {
		t.Errorf("450 W/m²: %.3f L/h, not above %.3f at 350 W/m²", hard, warm)
	}
}
