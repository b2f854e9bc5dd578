package training

import (
	"fmt"
	"math"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models/physio"
	"github.com/hydrocast/hydrocast/training/simulate"
)

// kitClo is the clothing insulation (clo) the sweat baseline assumes for a sport's
// usual kit; sports missing here get baselineClo.
var kitClo = map[simulate.Sport]float64{
	simulate.Running:          0.3,
	simulate.Cycling:          0.4,
	simulate.Soccer:           0.4,
	simulate.AmericanFootball: 0.9, // pads and helmet
	simulate.Basketball:       0.35,
	simulate.Tennis:           0.4,
}

// baselineClo is ISO 7933's light summer clothing, for kits not listed in kitClo.
const baselineClo = 0.5

// maxPHSAirSpeed is the top of ISO 7933's air-speed range, m/s.
const maxPHSAirSpeed = 3

// coolBelowC is the air temperature under which Gonzalez et al. 2012 replace the
// equation's intercept of 147 by 350 g/(m²·h).
const coolBelowC = 20

// GonzalezSweatRate is the sweat family's baseline for one session (L/h): the
// Gonzalez et al. 2009 equation, 147 + 1.527·Ereq − 0.87·Emax g/(m²·h) (intercept
// 350 below 20 °C, Gonzalez 2012), with Ereq and Emax the means over the session's
// minutes of an ISO 7933 PHS run in the session's mean weather and metabolic rate,
// the athlete's body and acclimatisation, and the sport's usual kit. It knows the
// whole session's conditions, which a forecast at minute t would not. The equation
// was fitted on people in military clothing at up to 2.5 m/s of wind: with light kit
// and the air speed of running, PHS's Emax is so large that it often predicts little
// or no sweat.
func GonzalezSweatRate(a *simulate.Athlete, s *simulate.Session) (float64, error) {
	clo, ok := kitClo[a.Sport]
	if !ok {
		clo = baselineClo
	}
	minutes := max(int(s.End.Sub(s.Start).Minutes()), 1)
	res, err := physio.PHS(physio.PHSInput{
		Ta:           s.MeanAmbientC,
		Tr:           s.MeanRadiantC,
		Pa:           physio.VapourPressureHPa(s.MeanAmbientC, s.MeanHumidityPct) / 10,
		Va:           math.Min(s.MeanWindMPerS, maxPHSAirSpeed),
		Met:          s.MeanMetabolicWPerM2,
		Icl:          clo,
		Acclimatised: a.Acclimatised,
		DurationMin:  minutes,
		MassKg:       a.MassKg,
		HeightM:      a.HeightM,
		FreeDrinking: true,
	})
	if err != nil {
		return 0, fmt.Errorf("run phs: %w", err)
	}
	var ereq, emax float64
	for _, m := range res.Minutes {
		ereq += m.Ereq
		emax += m.Emax
	}
	n := float64(len(res.Minutes))
	gPerM2H := physio.GonzalezSweatGPerM2H(ereq/n, emax/n)
	if s.MeanAmbientC < coolBelowC {
		gPerM2H = physio.GonzalezCoolSweatGPerM2H(ereq/n, emax/n)
	}
	return gPerM2H * physio.BodySurfaceArea(a.MassKg, a.HeightM) / 1000, nil
}

// FlatCoreTemp is the thermal family's baseline for every horizon: the ECTemp
// estimate of now, held flat. Before the filter has a heart rate it is ECTemp's usual
// starting value.
func FlatCoreTemp(v *features.Vector) float64 {
	if ct := valueAt(v, coreTempIdx); !math.IsNaN(ct) {
		return ct
	}
	return physio.ECTempDefaultCT
}

// coreTempIdx is the schema position of the ECTemp core temperature.
var coreTempIdx = schemaIndex("core_temp_ectemp_c")

// Thresholds of the anomaly baseline rule.
const (
	ruleMinHR         = 40   // bpm; lower is implausible during exercise
	ruleMaxHR         = 210  // bpm
	ruleJumpHR        = 40   // bpm above the 15-minute mean within 5 minutes
	ruleMinCoverage   = 0.8  // share of the expected heart-rate samples in 5 minutes
	ruleFlatHRStd     = 0.5  // bpm; a real heart rate is never this steady for 5 min
	ruleFlatSkinStd   = 0.01 // °C
	ruleSkinSlopeCMin = 0.5  // °C per minute, faster than skin can change
)

// ruleIdx holds the schema positions of the features the anomaly rule reads, looked
// up once: training evaluates the rule on every labelled row.
var ruleIdx = struct {
	hrMin, hrMax, hrMean15, cov, hrStd, skinStd, skinSlope int
}{
	schemaIndex("heart_rate_bpm_min_5m"), schemaIndex("heart_rate_bpm_max_5m"),
	schemaIndex("heart_rate_bpm_mean_15m"), schemaIndex("heart_rate_bpm_coverage_5m"),
	schemaIndex("heart_rate_bpm_std_5m"), schemaIndex("skin_temp_c_std_5m"),
	schemaIndex("skin_temp_c_slope_5m"),
}

// schemaIndex returns the named feature's position in the current schema; it
// panics on a name the schema lacks, a mistake in this package caught at start.
func schemaIndex(name string) int {
	i, ok := features.CurrentSchema().Index(name)
	if !ok {
		panic("training: feature " + name + " is not in the schema")
	}
	return i
}

// valueAt returns feature i of v, NaN when the vector lacks it.
func valueAt(v *features.Vector, i int) float64 {
	if i >= len(v.Values) || v.Status[i] == features.StatusMissing {
		return math.NaN()
	}
	return v.Values[i]
}

// RuleAnomalyScore is the anomaly family's baseline: 1 when a simple rule on the
// last 5 minutes fires (heart rate out of range, jumping, flat or mostly missing;
// skin temperature flat or changing faster than skin can), else 0.
func RuleAnomalyScore(v *features.Vector) float64 {
	hrMin, hrMax := valueAt(v, ruleIdx.hrMin), valueAt(v, ruleIdx.hrMax)
	hrMean15 := valueAt(v, ruleIdx.hrMean15)
	cov := valueAt(v, ruleIdx.cov)
	hrStd, skinStd := valueAt(v, ruleIdx.hrStd), valueAt(v, ruleIdx.skinStd)
	skinSlope := valueAt(v, ruleIdx.skinSlope)

	// Comparisons with NaN are false: a missing statistic does not fire its rule.
	fires := hrMin < ruleMinHR || hrMax > ruleMaxHR || hrMax-hrMean15 > ruleJumpHR ||
		cov < ruleMinCoverage || math.IsNaN(cov) || hrStd < ruleFlatHRStd ||
		skinStd < ruleFlatSkinStd || math.Abs(skinSlope) > ruleSkinSlopeCMin
	if fires {
		return 1
	}
	return 0
}
