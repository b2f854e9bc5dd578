package simulate

import (
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// The column layouts of the cohort's tables. Each table's writer and decoder sit side
// by side so that a column renamed in one is renamed in the other.

// readingColumns lays out readings in the offline store's schema: athlete_id,
// source, time and one nullable float64 column per signal, named by Signal.Name.
func readingColumns(rs []features.Reading) []column {
	cols := []column{
		stringColumn("athlete_id", func(i int) string { return rs[i].AthleteID }),
		stringColumn("source", func(i int) string { return rs[i].Source }),
		timeColumn("time", func(i int) time.Time { return rs[i].Time }),
	}
	for s := range features.NumSignals {
		cols = append(cols, floatColumn(s.Name(), true,
			func(i int) float64 { return rs[i].Values[s] }))
	}
	return cols
}

func decodeReadings(v *view) []features.Reading {
	athlete, source, at := v.strings("athlete_id"), v.strings("source"), v.times("time")
	var signals [features.NumSignals]func(int) float64
	for s := range features.NumSignals {
		signals[s] = v.floats(s.Name())
	}
	if v.err != nil {
		return nil
	}
	out := make([]features.Reading, v.rows())
	for i := range out {
		r := features.Reading{AthleteID: athlete(i), Source: source(i), Time: at(i)}
		for s, get := range signals {
			r.Values[s] = get(i)
		}
		out[i] = r
	}
	return out
}

func athleteColumns(as []Athlete) []column {
	f := func(name string, get func(a *Athlete) float64) column {
		return floatColumn(name, false, func(i int) float64 { return get(&as[i]) })
	}
	return []column{
		stringColumn("athlete_id", func(i int) string { return as[i].ID }),
		stringColumn("sport", func(i int) string { return string(as[i].Sport) }),
		stringColumn("sex", func(i int) string { return as[i].Sex }),
		intColumn("age_years", func(i int) int64 { return int64(as[i].AgeYears) }),
		f("height_m", func(a *Athlete) float64 { return a.HeightM }),
		f("body_mass_kg", func(a *Athlete) float64 { return a.MassKg }),
		f("resting_hr_bpm", func(a *Athlete) float64 { return a.RestingHR }),
		f("max_hr_bpm", func(a *Athlete) float64 { return a.MaxHR }),
		f("vo2max_ml_per_kg_min", func(a *Athlete) float64 { return a.VO2Max }),
		boolColumn("acclimatised", func(i int) bool { return as[i].Acclimatised }),
		f("sweat_propensity", func(a *Athlete) float64 { return a.SweatPropensity }),
		f("drink_ratio", func(a *Athlete) float64 { return a.DrinkRatio }),
		f("hr_offset_bpm", func(a *Athlete) float64 { return a.HROffset }),
		f("hr_effort_gain_bpm", func(a *Athlete) float64 { return a.HREffortGain }),
		f("skin_sensor_offset_c", func(a *Athlete) float64 { return a.SkinSensorOffset }),
	}
}

func decodeAthletes(v *view) []Athlete {
	id, sport, sex, age := v.strings("athlete_id"), v.strings("sport"), v.strings("sex"),
		v.ints("age_years")
	height, mass := v.floats("height_m"), v.floats("body_mass_kg")
	rest, top, vo2 := v.floats("resting_hr_bpm"), v.floats("max_hr_bpm"),
		v.floats("vo2max_ml_per_kg_min")
	accl, sweat, drink := v.bools("acclimatised"), v.floats("sweat_propensity"),
		v.floats("drink_ratio")
	offset, gain, skin := v.floats("hr_offset_bpm"), v.floats("hr_effort_gain_bpm"),
		v.floats("skin_sensor_offset_c")
	if v.err != nil {
		return nil
	}
	out := make([]Athlete, v.rows())
	for i := range out {
		out[i] = Athlete{
			ID: id(i), Sport: Sport(sport(i)), Sex: sex(i), AgeYears: int(age(i)),
			HeightM: height(i), MassKg: mass(i), RestingHR: rest(i), MaxHR: top(i),
			VO2Max: vo2(i), Acclimatised: accl(i), SweatPropensity: sweat(i),
			DrinkRatio: drink(i), HROffset: offset(i), HREffortGain: gain(i),
			SkinSensorOffset: skin(i),
		}
	}
	return out
}

func sessionColumns(ss []Session, seed uint64) []column {
	f := func(name string, get func(s *Session) float64) column {
		return floatColumn(name, false, func(i int) float64 { return get(&ss[i]) })
	}
	return []column{
		stringColumn("athlete_id", func(i int) string { return ss[i].AthleteID }),
		stringColumn("session_id", func(i int) string { return ss[i].ID }),
		stringColumn("sport", func(i int) string { return string(ss[i].Sport) }),
		stringColumn("profile", func(i int) string { return ss[i].Profile }),
		boolColumn("indoor", func(i int) bool { return ss[i].Indoor }),
		timeColumn("start", func(i int) time.Time { return ss[i].Start }),
		timeColumn("end", func(i int) time.Time { return ss[i].End }),
		f("pre_mass_kg", func(s *Session) float64 { return s.PreMassKg }),
		f("post_mass_kg", func(s *Session) float64 { return s.PostMassKg }),
		f("fluid_ml", func(s *Session) float64 { return s.FluidML }),
		f("urine_ml", func(s *Session) float64 { return s.UrineML }),
		f("measured_sweat_rate_l_per_h", func(s *Session) float64 { return s.MeasuredSweatRate }),
		f("true_sweat_rate_l_per_h", func(s *Session) float64 { return s.TrueSweatRate }),
		f("body_mass_loss_pct", func(s *Session) float64 { return s.BodyMassLossPct }),
		f("peak_core_temp_c", func(s *Session) float64 { return s.PeakCoreC }),
		f("mean_ambient_temp_c", func(s *Session) float64 { return s.MeanAmbientC }),
		f("mean_radiant_temp_c", func(s *Session) float64 { return s.MeanRadiantC }),
		f("mean_humidity_pct", func(s *Session) float64 { return s.MeanHumidityPct }),
		f("mean_wind_m_per_s", func(s *Session) float64 { return s.MeanWindMPerS }),
		f("mean_metabolic_rate_w_per_m2", func(s *Session) float64 {
			return s.MeanMetabolicWPerM2
		}),
		intColumn("phs_extrapolated_min", func(i int) int64 {
			return int64(ss[i].PHSExtrapolatedMin)
		}),
		stringColumn("generator_version", func(int) string { return GeneratorVersion }),
		uintColumn("seed", func(int) uint64 { return seed }),
	}
}

func decodeSessions(v *view) []Session {
	athlete, id, sport, prof := v.strings("athlete_id"), v.strings("session_id"),
		v.strings("sport"), v.strings("profile")
	indoor, start, end := v.bools("indoor"), v.times("start"), v.times("end")
	pre, post, fluid, urine := v.floats("pre_mass_kg"), v.floats("post_mass_kg"),
		v.floats("fluid_ml"), v.floats("urine_ml")
	measured, truth := v.floats("measured_sweat_rate_l_per_h"),
		v.floats("true_sweat_rate_l_per_h")
	loss, peak := v.floats("body_mass_loss_pct"), v.floats("peak_core_temp_c")
	ta, tr, rh := v.floats("mean_ambient_temp_c"), v.floats("mean_radiant_temp_c"),
		v.floats("mean_humidity_pct")
	wind, met := v.floats("mean_wind_m_per_s"), v.floats("mean_metabolic_rate_w_per_m2")
	extrapolated := v.ints("phs_extrapolated_min")
	if v.err != nil {
		return nil
	}
	out := make([]Session, v.rows())
	for i := range out {
		out[i] = Session{
			AthleteID: athlete(i), ID: id(i), Sport: Sport(sport(i)), Profile: prof(i),
			Indoor: indoor(i), Start: start(i), End: end(i),
			PreMassKg: pre(i), PostMassKg: post(i), FluidML: fluid(i), UrineML: urine(i),
			MeasuredSweatRate: measured(i), TrueSweatRate: truth(i),
			BodyMassLossPct: loss(i), PeakCoreC: peak(i),
			MeanAmbientC: ta(i), MeanRadiantC: tr(i), MeanHumidityPct: rh(i),
			MeanWindMPerS: wind(i), MeanMetabolicWPerM2: met(i),
			PHSExtrapolatedMin: int(extrapolated(i)),
		}
	}
	return out
}

func faultColumns(fs []Fault) []column {
	return []column{
		stringColumn("athlete_id", func(i int) string { return fs[i].AthleteID }),
		stringColumn("session_id", func(i int) string { return fs[i].SessionID }),
		stringColumn("kind", func(i int) string { return string(fs[i].Kind) }),
		stringColumn("source", func(i int) string { return fs[i].Source }),
		stringColumn("signal", func(i int) string { return fs[i].Signal.Name() }),
		timeColumn("start", func(i int) time.Time { return fs[i].Start }),
		timeColumn("end", func(i int) time.Time { return fs[i].End }),
	}
}

func decodeFaults(v *view) []Fault {
	athlete, session, kind := v.strings("athlete_id"), v.strings("session_id"),
		v.strings("kind")
	source, signal := v.strings("source"), v.strings("signal")
	start, end := v.times("start"), v.times("end")
	if v.err != nil {
		return nil
	}
	out := make([]Fault, v.rows())
	for i := range out {
		sig, ok := features.SignalByName(signal(i))
		if !ok {
			v.fail("fault %d: unknown signal %q", i, signal(i))
			return nil
		}
		out[i] = Fault{
			AthleteID: athlete(i), SessionID: session(i), Kind: FaultKind(kind(i)),
			Source: source(i), Signal: sig, Start: start(i), End: end(i),
		}
	}
	return out
}
