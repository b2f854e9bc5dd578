package features

import (
	"math"

	"github.com/hydrocast/hydrocast/models/physio"
)

// The metabolic rate behind metabolic_rate_w_per_m2 is an estimate from population
// equations, not a measurement: it can be off by a quarter for one athlete.
//
// When the athlete runs (a five-minute mean speed between runMinSpeed and
// runMaxSpeed, and no power meter, which would mean a bicycle), oxygen uptake comes
// from the ACSM level-running equation, VO2 = 3.5 + 0.2·v ml/kg/min with v in m/min
// (ACSM's Guidelines for Exercise Testing and Prescription; valid above 134 m/min).
// Otherwise it comes from the heart-rate reserve, taking the share of heart-rate
// reserve as the share of VO2 reserve (Swain and Leutholtz 1997, Med Sci Sports
// Exerc 29:410): VO2 = 3.5 + (HR − HRrest)/(HRmax − HRrest)·(VO2max − 3.5), with
// population defaults for the athlete's unknown resting and maximal values.
// Oxygen is converted at 20.2 J per ml (RQ about 0.82) and spread over the DuBois
// body surface of the latest weigh-in (75 kg when none) and a height of 1.80 m.
const (
	runMinSpeed   = 2.2  // m/s; the ACSM running equation's lower limit
	runMaxSpeed   = 6.5  // m/s; faster than any sustained run, so not running
	restVO2       = 3.5  // ml/kg/min, one MET
	defaultHRRest = 60   // bpm
	defaultHRMax  = 190  // bpm
	defaultVO2Max = 45   // ml/kg/min, a recreationally trained adult
	oxygenJPerMl  = 20.2 // J of energy per ml of oxygen consumed
	defaultMassKg = 75.0
	defaultHeight = 1.80 // m
)

// runningVO2 returns the oxygen uptake (ml/kg/min) of level running at speed (m/s).
func runningVO2(speed float64) float64 { return restVO2 + 0.2*speed*60 }

// heartRateVO2 returns the oxygen uptake (ml/kg/min) estimated from heart rate (bpm)
// through the heart-rate reserve, clipped to the range rest..VO2max.
func heartRateVO2(hr float64) float64 {
	share := (hr - defaultHRRest) / (defaultHRMax - defaultHRRest)
	share = math.Min(math.Max(share, 0), 1)
	return restVO2 + share*(defaultVO2Max-restVO2)
}

// metabolicWPerM2 converts an oxygen uptake (ml/kg/min) of a person of massKg into a
// metabolic rate per unit of body surface (W/m²).
func metabolicWPerM2(vo2, massKg float64) float64 {
	watts := vo2 * massKg * oxygenJPerMl / 60
	return watts / physio.BodySurfaceArea(massKg, defaultHeight)
}

// isRunning reports whether a five-minute mean speed (m/s) without power readings is
// a run.
func isRunning(speed float64, powerCount float64) bool {
	return powerCount == 0 && speed >= runMinSpeed && speed <= runMaxSpeed
}
