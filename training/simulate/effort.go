package simulate

import (
	"math"
	"math/rand/v2"
)

// profile is the shape of a session's effort between warm-up and cool-down.
type profile int

const (
	steady    profile = iota // one level held, wandering a little
	intervals                // hard bouts with easy recoveries between them
	game                     // intermittent play with stoppages, as in team sports

	numProfiles
)

var profileNames = [numProfiles]string{"steady", "intervals", "game"}

func (p profile) String() string { return profileNames[p] }

// effortMinutes returns the effort of each minute of a session as a fraction of the
// athlete's maximal oxygen uptake: a warm-up ramp, the main part in the given profile
// and a cool-down.
func effortMinutes(r *rand.Rand, p profile, minutes int) []float64 {
	e := make([]float64, minutes)
	warm := int(clamp(0.12*float64(minutes), 6, 15))
	cool := int(clamp(0.08*float64(minutes), 4, 10))
	for m := range warm {
		e[m] = 0.3 + 0.3*float64(m)/float64(warm)
	}

	main := e[warm : minutes-cool]
	switch p {
	case steady:
		fillSteady(r, main)
	case intervals:
		fillIntervals(r, main)
	default:
		fillGame(r, main)
	}

	for m := range cool {
		e[minutes-cool+m] = 0.4 - 0.2*float64(m)/float64(cool)
	}
	return e
}

// fillSteady holds one level, with slow wander such as hills or a group's pace.
func fillSteady(r *rand.Rand, e []float64) {
	level, wander := uniform(r, 0.55, 0.8), 0.0
	for m := range e {
		wander = 0.9*wander + 0.02*r.NormFloat64()
		e[m] = clamp(level+wander, 0.3, 0.95)
	}
}

// fillIntervals alternates hard bouts of 2–5 minutes with recoveries of 1–3.
func fillIntervals(r *rand.Rand, e []float64) {
	hard, easy := uniform(r, 0.85, 1.0), uniform(r, 0.3, 0.45)
	work, rest := 2+r.IntN(4), 1+r.IntN(3)
	for m := range e {
		if m%(work+rest) < work {
			e[m] = hard
		} else {
			e[m] = easy
		}
	}
}

// fillGame draws intermittent play around a mean, with a longer break at half time
// and short stoppages.
func fillGame(r *rand.Rand, e []float64) {
	mean, x := uniform(r, 0.5, 0.7), 0.0
	half := len(e) / 2
	for m := range e {
		x = 0.6*x + 0.15*r.NormFloat64()
		switch {
		case len(e) > 50 && m >= half && m < half+8:
			e[m] = 0.15
		case r.Float64() < 0.08:
			e[m] = 0.2
		default:
			e[m] = clamp(mean+x, 0.2, 1)
		}
	}
}

// motion is what an athlete's body and devices do in one sample.
type motion struct {
	metW    float64 // metabolic rate, W
	workW   float64 // external mechanical power, W
	speed   float64 // m/s
	power   float64 // W; NaN where no power meter is worn
	cadence float64 // steps or revolutions per minute; NaN when standing
}

// move returns the motion of an athlete of the sport working at the given fraction of
// maximal oxygen uptake; jitter spreads speed between samples of the same minute.
func (a *Athlete) move(st *sportTraits, effort, jitter float64) motion {
	rest, top := a.restMetabolicW(), a.maxMetabolicW()
	m := motion{metW: rest + effort*(top-rest), power: math.NaN(), cadence: math.NaN()}

	switch st.sport {
	case Running:
		// About 4 J per kg per metre on top of standing (running economy).
		m.speed = math.Max(0, (m.metW-rest)/a.MassKg/4.0) * (1 + 0.03*jitter)
	case Cycling:
		// Gross efficiency near 23 % of the metabolic rate above rest.
		m.power = math.Max(0, 0.23*(m.metW-rest)*(1+0.08*jitter))
		m.workW = m.power
		m.speed = cyclingSpeed(m.power, a.MassKg)
		m.cadence = math.Round(clamp(78+18*effort+4*jitter, 60, 110))
		return m
	default:
		m.speed = math.Max(0, st.gameSpeed*math.Pow(effort, 1.6)*(1+0.3*jitter))
	}
	m.cadence = stepCadence(m.speed)
	return m
}

// stepCadence returns the steps per minute of walking or running at speed v (m/s).
func stepCadence(v float64) float64 {
	switch {
	case v < 0.3:
		return math.NaN()
	case v < 2:
		return math.Round(95 + 20*v)
	default:
		return math.Round(clamp(150+7*v, 150, 200))
	}
}

// cyclingSpeed solves the flat-road power balance P = v·(Crr·m·g + ½·ρ·CdA·v²) for the
// speed v (m/s) of a rider of massKg on a 9 kg bicycle, by bisection.
func cyclingSpeed(powerW, massKg float64) float64 {
	const crr, g, rho, cda = 0.004, 9.81, 1.2, 0.32
	roll := crr * (massKg + 9) * g
	lo, hi := 0.0, 25.0
	for range 40 {
		v := (lo + hi) / 2
		if v*(roll+0.5*rho*cda*v*v) > powerW {
			hi = v
		} else {
			lo = v
		}
	}
	return (lo + hi) / 2
}
