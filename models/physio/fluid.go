package physio

import (
	"math"
	"time"
)

// BodySurfaceArea returns the DuBois body surface area (m²) of a person of massKg
// (kg) and heightM (m): 0.202 · mass^0.425 · height^0.725.
func BodySurfaceArea(massKg, heightM float64) float64 {
	return 0.202 * math.Pow(massKg, 0.425) * math.Pow(heightM, 0.725)
}

// SweatRateLPerH returns the whole-body sweat rate (L/h) measured by weighing: the
// mass lost plus fluid drunk minus urine passed, over the hours of exercise, taking
// 1 kg of sweat as 1 L. It returns NaN when hours is not positive.
func SweatRateLPerH(preKg, postKg, drankL, urineL, hours float64) float64 {
	if !(hours > 0) {
		return math.NaN()
	}
	return (preKg - postKg + drankL - urineL) / hours
}

// BodyMassLossPct returns the body-mass loss (% of the starting mass) from preKg to
// postKg; negative when mass was gained.
func BodyMassLossPct(preKg, postKg float64) float64 {
	return (preKg - postKg) / preKg * 100
}

// GonzalezSweatGPerM2H returns the sweat rate (g·m⁻²·h⁻¹) predicted from the required
// and maximum evaporative heat flows ereq and emax (W/m², as PHS gives them) by
// Gonzalez et al. 2009 (J Appl Physiol 107:379): 147 + 1.527·Ereq − 0.87·Emax. A
// negative prediction is returned as 0. Multiply by the body surface area and divide
// by 1000 for L/h.
func GonzalezSweatGPerM2H(ereq, emax float64) float64 {
	return gonzalezSweat(147, ereq, emax)
}

// GonzalezCoolSweatGPerM2H is GonzalezSweatGPerM2H with the intercept of 350 that
// Gonzalez et al. 2012 fitted for cool conditions.
func GonzalezCoolSweatGPerM2H(ereq, emax float64) float64 {
	return gonzalezSweat(350, ereq, emax)
}

// gonzalezSweat evaluates the Gonzalez sweat equation with the given intercept.
func gonzalezSweat(intercept, ereq, emax float64) float64 {
	return math.Max(0, intercept+1.527*ereq-0.87*emax)
}

// Limits of the drinking guidance: the body-mass loss not to exceed (ACSM 2007) and
// the military ceilings on intake.
const (
	maxMassLossShare = 0.02 // of starting body mass
	maxIntakeLPerH   = 1.4
	maxIntakeLPerDay = 11.0

	// FluidWindow is the span that FluidToDrinkML advises for.
	FluidWindow = 15 * time.Minute

	// DefaultFluidHorizon is how much longer a session is assumed to last when its
	// end is not known.
	DefaultFluidHorizon = time.Hour
)

// FluidStatus is what FluidToDrinkML needs to know about a session so far.
type FluidStatus struct {
	SweatRateLPerH float64       // current whole-body sweat rate estimate, L/h
	BodyMassKg     float64       // body mass at the start of the session, kg
	DrunkML        float64       // fluid drunk since the start, ml
	Elapsed        time.Duration // time since the start
	// Horizon is how much longer the session is expected to last; zero means
	// DefaultFluidHorizon. A horizon shorter than FluidWindow counts as FluidWindow.
	Horizon time.Duration
}

// FluidToDrinkML returns how much (ml) to drink during the next FluidWindow so that
// body-mass loss stays under 2 % (ACSM 2007) until the session's expected end,
// assuming the sweat rate has held since the start and holds until then.
//
// The rule: plan to reach at most 2 % of body mass by the end of the horizon H,
// drinking at a steady rate meanwhile; the advice is that rate's share for the next
// window, (S·(t+H) − 2 %·mass − drunk)·window/H, or nothing when the plan needs no
// drink. Spreading the intake over the horizon avoids both a late rush to drink and
// drinking before any need. When sweating outpaces the intake
// ceiling of 1.4 L/h, the 2 % mark will be crossed whatever is drunk, so drink at the
// ceiling from the start to reach it as late as possible. Never advise more than D
// (drinking more than is sweated risks hyponatraemia), more than 1.4 L/h for the
// window, or more than what is left of 11 L a day counting this session's intake.
//
// It returns NaN when the status is unusable: a non-positive body mass, a negative or
// NaN sweat rate, fluid or elapsed time.
func FluidToDrinkML(s FluidStatus) float64 {
	if !(s.BodyMassKg > 0) || !(s.SweatRateLPerH >= 0) || !(s.DrunkML >= 0) ||
		s.Elapsed < 0 || math.IsInf(s.SweatRateLPerH+s.BodyMassKg+s.DrunkML, 0) {
		return math.NaN()
	}

	window := FluidWindow.Hours()
	horizon := s.Horizon
	if horizon == 0 {
		horizon = DefaultFluidHorizon
	}
	plan := max(horizon, FluidWindow).Hours()
	deficit := s.SweatRateLPerH*(s.Elapsed.Hours()+window)*1000 - s.DrunkML
	ceiling := maxIntakeLPerH * window * 1000

	atHorizon := s.SweatRateLPerH*(s.Elapsed.Hours()+plan)*1000 - s.DrunkML
	need := (atHorizon - maxMassLossShare*s.BodyMassKg*1000) * window / plan
	if s.SweatRateLPerH > maxIntakeLPerH {
		need = ceiling
	}
	advice := min(need, deficit, ceiling, maxIntakeLPerDay*1000-s.DrunkML)
	return math.Max(0, advice)
}
