package simulate

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models/physio"
)

// Effects of dehydration added on top of PHS, which assumes a hydrated person: per %
// of body mass lost, core temperature rises by about 0.15 °C and heart rate by about
// 4 bpm, within the ranges the ACSM 2007 position stand on fluid replacement reports.
const (
	dehydrationCorePerPct = 0.15 // °C
	dehydrationHRPerPct   = 4.0  // bpm
)

// Start values of ISO 7933 for rectal and skin temperature, °C: the state before a
// session's first minute.
const (
	phsStartCoreC = 36.8
	phsStartSkinC = 34.1
)

// pace returns the share of the planned effort an athlete keeps at core temperature
// core (°C): self-paced athletes slow down as they get hot and all but stop at 40 °C,
// which keeps simulated sessions in the range of training rather than of heat stroke.
func pace(core float64) float64 { return clamp(1-0.85*(core-39), 0.15, 1) }

// runPhysiology steps PHS through the session minute by minute and returns the state
// at each 30-second sample together with the session's fluid balance. It scales the
// planned effort by pace as the athlete warms, and fills the session's weather and
// strain summaries and its measured fluid balance.
func runPhysiology(r *rand.Rand, a *Athlete, st *sportTraits, path *weatherPath,
	effort []float64, s *Session) ([]sampleState, *bodyWater, error) {
	th, err := newThermal(a, st.clo)
	if err != nil {
		return nil, nil, err
	}
	minutes := len(effort)
	samples := make([]sampleState, 0, 2*minutes)
	body := &bodyWater{preKg: a.MassKg * (1 + 0.006*r.NormFloat64())}
	fluid := newDrinker(r, a, st, minutes)

	prevCore, prevSkin, peak := phsStartCoreC, phsStartSkinC, 0.0
	var means sessionMeans
	for m := range minutes {
		w := path.at(r, m)
		fluid.minute(m, body)
		effort[m] *= pace(prevCore)
		mot := a.move(st, effort[m], 0)
		h, err := th.step(w, mot)
		if err != nil {
			return nil, nil, err
		}

		// Samples at the start and the middle of the minute lie between PHS's state
		// before and after it.
		for half := range 2 {
			f := 0.5 * float64(half)
			net := body.sweatML + body.breathML + f*(h.sweatG+h.respG) + body.urineML -
				fluid.drunk
			loss := math.Max(0, net/(body.preKg*10))
			core := prevCore + f*(h.coreC-prevCore) + dehydrationCorePerPct*loss
			samples = append(samples, sampleState{
				coreC: core, skinC: prevSkin + f*(h.skinC-prevSkin),
				effort: effort[m], weather: w, lossPct: loss,
			})
			peak = math.Max(peak, core)
		}
		body.sweatML += h.sweatG
		body.breathML += h.respG
		prevCore, prevSkin = h.coreC, h.skinC
		means.add(w, mot.metW/th.area, h.outOfRange)
	}
	means.fill(s)
	s.PeakCoreC = round(peak, 0.01)

	body.drinks = fluid.drinks
	weighIns(r, body, fluid.drunk)
	s.measure(body)
	return samples, body, nil
}

// sessionMeans sums a session's minutes for its summary.
type sessionMeans struct {
	n                 int
	ta, tr, rh, wind  float64
	met               float64 // W/m²
	outOfRangeMinutes int
}

func (sm *sessionMeans) add(w weather, met float64, outOfRange bool) {
	sm.n++
	sm.ta, sm.tr, sm.rh, sm.wind = sm.ta+w.ta, sm.tr+w.tr, sm.rh+w.rh, sm.wind+w.wind
	sm.met += met
	if outOfRange {
		sm.outOfRangeMinutes++
	}
}

func (sm *sessionMeans) fill(s *Session) {
	n := float64(sm.n)
	s.MeanAmbientC, s.MeanRadiantC = round(sm.ta/n, 0.01), round(sm.tr/n, 0.01)
	s.MeanHumidityPct, s.MeanWindMPerS = round(sm.rh/n, 0.1), round(sm.wind/n, 0.01)
	s.MeanMetabolicWPerM2 = round(sm.met/n, 0.1)
	s.PHSExtrapolatedMin = sm.outOfRangeMinutes
}

// scaleNoiseKg is the standard deviation of a weigh-in, kg.
const scaleNoiseKg = 0.05

// weighIns sets the scale readings before and after the session: the true masses
// plus scale noise, shown to 10 g.
func weighIns(r *rand.Rand, body *bodyWater, drunkML float64) {
	post := body.preKg - (body.sweatML+body.breathML+body.urineML-drunkML)/1000
	body.preKgRead = round(body.preKg+scaleNoiseKg*r.NormFloat64(), 0.01)
	body.postKgRead = round(post+scaleNoiseKg*r.NormFloat64(), 0.01)
}

// drinker decides when the athlete drinks and how much, and when they pass urine.
type drinker struct {
	r       *rand.Rand
	ratio   float64    // share of the loss since the last drink that is drunk back
	gap     [2]float64 // minutes between drinking chances
	next    int        // minute of the next drinking chance
	lostAt  float64    // loss (sweat and breath, ml) at the last drink
	urineAt int        // minute at which urine is passed; -1 for none
	urineML float64
	drunk   float64 // ml so far
	drinks  []drink
	minutes int
}

func newDrinker(r *rand.Rand, a *Athlete, st *sportTraits, minutes int) *drinker {
	d := &drinker{r: r, ratio: a.DrinkRatio, gap: st.drinkGap, urineAt: -1,
		minutes: minutes}
	d.next = int(uniform(r, st.drinkGap[0], st.drinkGap[1]))

	// About one session in five includes a toilet break between the weigh-ins.
	if r.Float64() < 0.2 {
		d.urineAt = minutes/4 + r.IntN(minutes/2)
		d.urineML = round(uniform(r, 100, 400), 10)
	}
	return d
}

// maxDrinkML is the most an athlete drinks at one chance, ml.
const maxDrinkML = 600

// minute applies the drinking and the urine of the start of minute m.
func (d *drinker) minute(m int, body *bodyWater) {
	if m == d.urineAt {
		body.urineML = d.urineML
	}
	if m < d.next || m >= d.minutes-1 {
		return
	}
	d.next = m + int(uniform(d.r, d.gap[0], d.gap[1]))

	// Athletes skip some chances and drink by feel, so each volume scatters around
	// their habitual share of what they have lost since the last drink.
	lost := body.sweatML + body.breathML
	want := d.ratio * (lost - d.lostAt) * logNormal(d.r, 1, 0.3)
	if d.r.Float64() < 0.15 {
		return
	}
	ml := round(clamp(want, 0, maxDrinkML), 10)
	if ml < 20 {
		return
	}
	d.lostAt = lost
	d.drunk += ml
	d.drinks = append(d.drinks, drink{minute: m, ml: ml})
}

// Heart-rate dynamics: the part driven by effort follows it with a time constant of
// 45 s; a slow biological wander and the sensor's noise come on top.
var hrEffortFollow = 1 - math.Exp(-30.0/45)

// The ECTemp curve alone gives the heart rate of a warm body; at the start of
// exercise heart rate leads core temperature by many minutes. The effort term bridges
// that gap and fades, with this scale in °C above 37 °C, as the curve takes over:
// with the usual gain, moderate running gives about 140 bpm at a core of 37.1 °C and
// 160 bpm at 38.6 °C.
const hrEffortFadeC = 1.5

const (
	hrWanderKeep  = 0.85 // share of the wander kept from one sample to the next
	hrWanderStep  = 2.5  // bpm
	hrSensorNoise = 1.5  // bpm
)

// watchReadings returns the watch's clean readings, one per sample: heart rate on
// the ECTemp observation curve of the true core temperature plus a fading effort
// term, dehydration and noise; skin temperature from PHS plus the sensor's offset;
// speed, power and cadence from the effort.
func watchReadings(r *rand.Rand, a *Athlete, st *sportTraits, s *Session,
	samples []sampleState) []features.Reading {
	out := make([]features.Reading, len(samples))
	hrEffort, wander := 0.0, 0.0
	for j, x := range samples {
		hrEffort += (a.HREffortGain*x.effort - hrEffort) * hrEffortFollow
		wander = hrWanderKeep*wander + hrWanderStep*r.NormFloat64()
		warm := math.Exp(-math.Max(0, x.coreC-37) / hrEffortFadeC)
		hr := physio.ECTempHeartRate(x.coreC) + a.HROffset + hrEffort*warm +
			dehydrationHRPerPct*x.lossPct + wander
		hr = clamp(hr, a.RestingHR, a.MaxHR)
		hr = clamp(math.Round(hr+hrSensorNoise*r.NormFloat64()), a.RestingHR, a.MaxHR)

		rd := features.NewReading(a.ID, SourceWatch, s.Start.Add(samplePeriod*time.Duration(j)))
		rd.Set(features.HeartRate, hr)
		rd.Set(features.SkinTemp, round(x.skinC+a.SkinSensorOffset+0.1*r.NormFloat64(), 0.01))

		mot := a.move(st, x.effort, r.NormFloat64())
		rd.Set(features.Speed, round(mot.speed, 0.01))
		rd.Set(features.Power, math.Round(mot.power))
		rd.Set(features.Cadence, mot.cadence)
		out[j] = rd
	}
	return out
}
