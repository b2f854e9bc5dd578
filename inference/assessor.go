package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/models/physio"
	"github.com/hydrocast/hydrocast/registry"
)

// ModelSet holds the loaded versions of the three model families: for each, the
// arms of its traffic policy and its shadow, or the one version its alias names.
// Sweat, Thermal and Anomaly are the versions that answer requests naming no
// athlete, such as Open Inference Protocol calls: a policy's heaviest arm.
type ModelSet struct {
	Sweat   *LoadedModel
	Thermal *LoadedModel
	Anomaly *LoadedModel

	// Drift, when set, records every run's inputs and outputs into the live drift
	// sketches; Server.SetDrift sets it on every set the server serves.
	Drift *DriftRecorder

	plan   Plan
	routes []route // per family, in the order of models.Families; nil when built by hand
}

// LoadModelSet loads, for each family in the registry, the versions its traffic
// policy names or, without a policy, the version alias (usually "production")
// points at.
func LoadModelSet(ctx context.Context, reg *registry.Registry, alias string,
	opts ort.Options) (*ModelSet, error) {
	plan, err := PlanModels(ctx, reg, alias)
	if err != nil {
		return nil, err
	}
	return LoadPlan(ctx, reg, plan, opts)
}

// Versions maps each model name to the version that answers requests naming no
// athlete.
func (s *ModelSet) Versions() map[string]string {
	return map[string]string{
		s.Sweat.Family.Name:   s.Sweat.VersionString(),
		s.Thermal.Family.Name: s.Thermal.VersionString(),
		s.Anomaly.Family.Name: s.Anomaly.VersionString(),
	}
}

// Close frees every loaded model.
func (s *ModelSet) Close() error {
	var errs []error
	for _, m := range s.loaded() {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// Thresholds of the alerts, from the science sheet.
const (
	// coreTempAlarmC is the projected core temperature that raises a heat-strain alarm.
	coreTempAlarmC = 39.5
	// coreTempCriticalC marks the risk of exertional heat stroke.
	coreTempCriticalC = 40.0
	// massLossLimitPct is the body-mass loss that fluid guidance keeps under (ACSM).
	massLossLimitPct = 2.0
	// staleAfter is the age of the freshest reading from which an assessment gives
	// no alerts or fluid guidance, only a warning that it rests on old data.
	staleAfter = 5 * time.Minute
	// defaultAnomalyThreshold applies when a version carries no threshold tag.
	defaultAnomalyThreshold = 0.5
	// defaultBodyMassKg stands in when no weigh-in is known (the PHS default).
	defaultBodyMassKg = 75.0
	// maxCoreRateCPerMin bounds how fast a projection may move away from the current
	// estimate. Rectal temperature rarely rises faster than 0.05–0.1 °C a minute in
	// exertional heat stress, so a steeper projection is the model extrapolating.
	maxCoreRateCPerMin = 0.1
	// warmUpMin is how much of a session the trends behind projections need before
	// an alarm rests on them.
	warmUpMin = 5.0
)

// Assess runs the three models, routed by the vector's athlete, on one feature
// vector and turns their outputs into an assessment with alerts and fluid guidance.
func (s *ModelSet) Assess(ctx context.Context, v *features.Vector) (Assessment, error) {
	r := s.Route(v.AthleteID)
	return s.AssessRouted(ctx, v, &r)
}

// AssessRouted is Assess with the versions r chose, which Route returned for the
// vector's athlete.
func (s *ModelSet) AssessRouted(ctx context.Context, v *features.Vector,
	r *Routing) (Assessment, error) {
	sweatModel, thermalModel, anomalyModel := r.Models[0], r.Models[1], r.Models[2]
	a := Assessment{
		AthleteID:            v.AthleteID,
		Time:                 v.AsOf,
		ModelVersions:        r.Versions(),
		FeatureSchemaVersion: uint32(v.SchemaVersion),
		FreshestReading:      v.FreshestReading,
		HeartRateBPM:         present(v, "heart_rate_bpm_mean_5m"),
		CoreTempC:            present(v, "core_temp_ectemp_c"),
		WBGTC:                present(v, "wbgt_c"),
		StrainIndex:          present(v, "psi"),
		ElapsedMin:           orZero(present(v, "elapsed_min")),
	}

	sweat, st1, err := run(ctx, sweatModel, v)
	if err != nil {
		return a, err
	}
	thermal, st2, err := run(ctx, thermalModel, v)
	if err != nil {
		return a, err
	}
	anomaly, st3, err := run(ctx, anomalyModel, v)
	if err != nil {
		return a, err
	}
	a.FeatureStatus = mergeStatus(st1, st2, st3)
	s.Drift.Record(sweatModel, v, sweat)
	s.Drift.Record(thermalModel, v, thermal)
	s.Drift.Record(anomalyModel, v, anomaly)

	a.SweatRateLPerH = math.Max(0, sweat[models.OutSweatRate])
	a.SweatRateLowerLPerH = math.Max(0, sweat[models.OutSweatRateLower])
	a.SweatRateUpperLPerH = math.Max(a.SweatRateLPerH, sweat[models.OutSweatRateUpper])
	a.AnomalyScore = clamp01(anomaly[models.OutAnomalyScore])
	if math.IsNaN(a.CoreTempC) {
		a.CoreTempC = physio.ECTempDefaultCT
	}
	// Trends from a few minutes of readings are mostly noise: until warmUpMin has
	// passed, projections lean toward the current estimate in proportion.
	trust := min(1, a.ElapsedMin/warmUpMin)
	a.CoreTemp15mC = envelope(a.CoreTempC, thermal[models.OutCoreTemp15m], 15, trust)
	a.CoreTemp30mC = envelope(a.CoreTempC, thermal[models.OutCoreTemp30m], 30, trust)
	a.CoreTemp60mC = envelope(a.CoreTempC, thermal[models.OutCoreTemp60m], 60, trust)

	if age := a.FreshestReadingAge(); age > staleAfter {
		// Readings stopped: the session is over or the sensors are off. Nothing
		// current is known to warn about or to drink for, and the session's clock
		// stopped with its last reading; say how old the picture is instead.
		a.ElapsedMin = max(0, a.ElapsedMin-age.Minutes())
		a.Alerts = []string{fmt.Sprintf("no fresh readings for %s: no alerts or fluid "+
			"advice until readings resume; the estimates rest on stale or missing features",
			age.Round(time.Second))}
		return a, nil
	}
	mass := present(v, "body_mass_kg")
	if math.IsNaN(mass) {
		mass = defaultBodyMassKg
	}
	a.FluidMLPer15Min = orZero(physio.FluidToDrinkML(physio.FluidStatus{
		SweatRateLPerH: a.SweatRateLPerH,
		BodyMassKg:     mass,
		DrunkML:        orZero(present(v, "fluid_cum_ml")),
		Elapsed:        time.Duration(a.ElapsedMin * float64(time.Minute)),
	}))
	a.Alerts = alerts(&a, mass, anomalyModel.threshold(defaultAnomalyThreshold), v)
	return a, nil
}

// envelope bounds a projection minutes ahead to what core temperature can do in that
// time from current (see maxCoreRateCPerMin), and keeps the share trust (0 to 1) of
// its distance from current.
func envelope(current, projected, minutes, trust float64) float64 {
	if math.IsNaN(projected) {
		return current
	}
	span := maxCoreRateCPerMin * minutes
	return current + trust*(min(max(projected, current-span), current+span)-current)
}

// run feeds one model the vector's features and returns its first row of outputs by
// name, with the statuses of the inputs that were not present.
func run(ctx context.Context, m *LoadedModel, v *features.Vector) (map[string]float64,
	map[string]string, error) {
	row := make([]float32, len(m.featureIdx))
	status := m.input(v, row)
	out := make([][]float32, len(m.session.Outputs()))
	if err := m.session.RunFloat32(ctx, row, out); err != nil {
		return nil, nil, fmt.Errorf("run %s v%d: %w", m.Family.Name, m.Version.Number, err)
	}
	res := make(map[string]float64, len(m.outputIdx))
	for name, i := range m.outputIdx {
		res[name] = float64(out[i][0])
	}
	return res, status, nil
}

// alerts lists the assessment's heat-strain, hydration and data-quality alerts, most
// severe first.
func alerts(a *Assessment, massKg, anomalyThreshold float64, v *features.Vector) []string {
	var out []string
	peak, at := a.CoreTemp15mC, 15
	if a.CoreTemp30mC > peak {
		peak, at = a.CoreTemp30mC, 30
	}
	if a.ElapsedMin < warmUpMin {
		// Trends from a few readings are noise: alarm on the estimate alone.
		peak = a.CoreTempC
	}
	switch {
	case peak >= coreTempCriticalC || a.CoreTempC >= coreTempCriticalC:
		out = append(out, fmt.Sprintf("heat stroke risk: core temperature %.1f °C projected "+
			"within %d min; stop and cool down", peak, at))
	case peak >= coreTempAlarmC:
		out = append(out, fmt.Sprintf("core temperature projected %.1f °C within %d min; "+
			"reduce intensity", peak, at))
	}
	if a.StrainIndex >= 7 {
		out = append(out, fmt.Sprintf("high physiological strain (PSI %.1f)", a.StrainIndex))
	}
	if w := a.WBGTC; !math.IsNaN(w) {
		switch {
		case w > 32.2:
			out = append(out, fmt.Sprintf("WBGT %.1f °C: above 32.2 °C, cancel exercise", w))
		case w > 30.0:
			out = append(out, fmt.Sprintf("WBGT %.1f °C: limit intense exercise", w))
		case w > 27.8:
			out = append(out, fmt.Sprintf("WBGT %.1f °C: plan intense or long exercise "+
				"with care", w))
		}
	}
	drunk := orZero(present(v, "fluid_cum_ml"))
	lossL := a.SweatRateLPerH*a.ElapsedMin/60 - drunk/1000
	if pct := 100 * lossL / massKg; pct >= massLossLimitPct {
		out = append(out, fmt.Sprintf("estimated body-mass loss %.1f %%: drink", pct))
	}
	if a.AnomalyScore >= anomalyThreshold {
		out = append(out, fmt.Sprintf("sensor data look faulty (anomaly score %.2f): "+
			"check the heart-rate and skin sensors", a.AnomalyScore))
	}
	return out
}

// present returns the named feature when it is present or stale, NaN otherwise.
func present(v *features.Vector, name string) float64 {
	x, st, ok := v.Get(name)
	if !ok || st == features.StatusMissing {
		return math.NaN()
	}
	return x
}

func orZero(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

func clamp01(x float64) float64 { return math.Min(1, math.Max(0, orZero(x))) }

func mergeStatus(ms ...map[string]string) map[string]string {
	var out map[string]string
	for _, m := range ms {
		for k, v := range m {
			if out == nil {
				out = make(map[string]string)
			}
			out[k] = v
		}
	}
	return out
}
