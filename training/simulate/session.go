package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models/physio"
)

// Sources of the simulated readings, one per device.
const (
	SourceBottle  = "sim-bottle"  // fluid intake, one reading per drink
	SourcePill    = "sim-pill"    // ingestible core-temperature pill, every 30 s
	SourceScale   = "sim-scale"   // body mass at the pre and post weigh-ins
	SourceWatch   = "sim-watch"   // heart rate, skin temperature, speed, power, cadence
	SourceWeather = "sim-weather" // air temperature and humidity, every 60 s
)

// Timing of a session's readings.
const (
	samplePeriod = 30 * time.Second
	weighInGap   = 5 * time.Minute // weigh-ins this long before the start and after the end
)

// Session describes one simulated training session: its plan, its fluid balance as
// a sports scientist would measure it, and the ground truth behind the measurement.
type Session struct {
	AthleteID string
	ID        string // athlete id, a dash and the session's number, such as sim00042-3
	Sport     Sport
	Profile   string // effort profile: steady, intervals or game
	Indoor    bool

	// Start and End bound the exercise; readings of the watch, pill and weather lie
	// in [Start, End), the weigh-ins five minutes outside it.
	Start, End time.Time

	PreMassKg, PostMassKg float64 // scale readings at the weigh-ins, kg
	FluidML, UrineML      float64 // drunk and passed between the weigh-ins, ml

	// MeasuredSweatRate is the mass-balance sweat rate from the weigh-ins (L/h), the
	// label real data would carry; TrueSweatRate is the sweat actually produced (L/h).
	// They differ by scale noise and by the water breathed out, which mass balance
	// counts as sweat.
	MeasuredSweatRate, TrueSweatRate float64

	BodyMassLossPct float64 // from the weigh-ins, % of the pre mass
	PeakCoreC       float64 // highest true core temperature, °C

	MeanAmbientC, MeanRadiantC float64 // °C
	MeanHumidityPct            float64
	MeanWindMPerS              float64
	MeanMetabolicWPerM2        float64

	// PHSExtrapolatedMin counts the minutes whose PHS inputs (most often a metabolic
	// rate above 450 W/m²) lay outside the validity range of ISO 7933.
	PHSExtrapolatedMin int
}

// Hours returns the session's length in hours.
func (s *Session) Hours() float64 { return s.End.Sub(s.Start).Hours() }

// sessionPlan places one session of an athlete in the calendar.
type sessionPlan struct {
	athlete int       // index from 0
	number  int       // from 1
	day     time.Time // midnight UTC of the session's day
}

// sessionID returns the id of an athlete's session number n (from 1).
func sessionID(athlete string, n int) string { return fmt.Sprintf("%s-%d", athlete, n) }

// sessionResult is everything one simulated session produces.
type sessionResult struct {
	session  Session
	readings []features.Reading // in time order, then by source
	faults   []Fault
}

// sampleState is the physiology at one 30-second sample.
type sampleState struct {
	coreC, skinC float64 // true core and mean skin temperature
	effort       float64 // fraction of maximal oxygen uptake
	weather      weather
	lossPct      float64 // net water lost so far, % of body mass (0 when ahead)
}

// simulateSession runs one session of athlete a.
func simulateSession(seed uint64, a *Athlete, p sessionPlan, faultsPerHour float64) (
	sessionResult, error) {
	r := newRand(seed, streamSession, p.athlete, p.number)
	st := traitsOf(a.Sport)

	minutes := 30 + r.IntN(91)
	startMin := 6*60 + r.IntN(16*60-minutes-int(2*weighInGap/time.Minute))
	s := Session{
		AthleteID: a.ID, ID: sessionID(a.ID, p.number), Sport: a.Sport,
		Start: p.day.Add(time.Duration(startMin) * time.Minute),
		End:   p.day.Add(time.Duration(startMin+minutes) * time.Minute),
	}
	prof := profile(pick(r, st.profiles[:]))
	s.Profile = prof.String()
	s.Indoor = r.Float64() < st.indoor

	path := newWeatherPath(r, s.Indoor, float64(startMin)/60, minutes)
	effort := effortMinutes(r, prof, minutes)
	samples, body, err := runPhysiology(r, a, st, path, effort, &s)
	if err != nil {
		return sessionResult{}, fmt.Errorf("simulate session %s: %w", s.ID, err)
	}

	watch := watchReadings(r, a, st, &s, samples)
	faults := injectFaults(r, &s, watch, samples, faultsPerHour*float64(minutes)/60)
	readings := assemble(r, a, &s, watch, samples, body)
	return sessionResult{session: s, readings: readings, faults: faults}, nil
}

// bodyWater is the fluid balance of a session.
type bodyWater struct {
	preKg      float64 // true body mass at the pre weigh-in, kg
	sweatML    float64 // sweat produced
	breathML   float64 // water breathed out
	urineML    float64 // urine passed
	drinks     []drink // in time order
	preKgRead  float64 // what the scale showed before, kg
	postKgRead float64 // and after
}

// drink is one drink, taken at the start of a minute of the session.
type drink struct {
	minute int
	ml     float64
}

// assemble merges the watch readings with those of the pill, the weather station,
// the bottle and the scale into the session's readings, ordered by time and source.
func assemble(r *rand.Rand, a *Athlete, s *Session, watch []features.Reading,
	samples []sampleState, body *bodyWater) []features.Reading {
	out := make([]features.Reading, 0, len(watch)*5/2+len(body.drinks)+2)
	drinks := body.drinks

	pre := features.NewReading(a.ID, SourceScale, s.Start.Add(-weighInGap))
	pre.Set(features.BodyMass, body.preKgRead)
	out = append(out, pre)

	for j := range watch {
		t := watch[j].Time
		if len(drinks) > 0 && drinks[0].minute*2 == j {
			bottle := features.NewReading(a.ID, SourceBottle, t)
			bottle.Set(features.FluidIntake, drinks[0].ml)
			out = append(out, bottle)
			drinks = drinks[1:]
		}

		// The pill's error is small next to the changes it labels (about 0.1 °C
		// accuracy is typical of telemetric pills).
		pill := features.NewReading(a.ID, SourcePill, t)
		pill.Set(features.CoreTemp, round(samples[j].coreC+0.03*r.NormFloat64(), 0.01))
		out = append(out, pill, watch[j])

		if j%2 == 0 {
			w := samples[j].weather
			station := features.NewReading(a.ID, SourceWeather, t)
			station.Set(features.AmbientTemp, round(w.ta, 0.1))
			station.Set(features.Humidity, math.Round(w.rh))
			out = append(out, station)
		}
	}

	post := features.NewReading(a.ID, SourceScale, s.End.Add(weighInGap))
	post.Set(features.BodyMass, body.postKgRead)
	return append(out, post)
}

// measure fills the session's fluid balance from the weigh-ins.
func (s *Session) measure(body *bodyWater) {
	drunk := 0.0
	for _, d := range body.drinks {
		drunk += d.ml
	}
	s.PreMassKg, s.PostMassKg = body.preKgRead, body.postKgRead
	s.FluidML, s.UrineML = drunk, body.urineML
	s.MeasuredSweatRate = round(physio.SweatRateLPerH(s.PreMassKg, s.PostMassKg,
		drunk/1000, body.urineML/1000, s.Hours()), 0.001)
	s.TrueSweatRate = round(body.sweatML/1000/s.Hours(), 0.001)
	s.BodyMassLossPct = round(physio.BodyMassLossPct(s.PreMassKg, s.PostMassKg), 0.01)
}
