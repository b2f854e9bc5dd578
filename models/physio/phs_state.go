package physio

import (
	"fmt"
	"math"
)

// Defaults and start values of ISO 7933.
const (
	defaultDurationMin = 480
	maxDurationMin     = 24 * 60 // PHS models a work shift, not days of exposure
	defaultMassKg      = 75
	defaultHeightM     = 1.80

	startCoreC = 36.8 // rectal, core and equilibrium core temperature at minute 0
	startSkinC = 34.1
	startSkinW = 0.3 // skin share of the skin–core weighting
)

// Exponential averaging factors for one-minute steps: the equilibrium core
// temperature and the sweat rate follow with a 10-minute time constant, the skin
// temperature with a 3-minute one.
var (
	decayCore  = math.Exp(-1.0 / 10)
	decaySkin  = math.Exp(-1.0 / 3)
	decaySweat = math.Exp(-1.0 / 10)
)

// PHSLimits holds the minutes at which the exposure limits of PHS were first
// reached; zero means not reached yet.
type PHSLimits struct {
	Tre    int // rectal temperature reached 38 °C
	Loss50 int // water loss reached the limit for an average person
	Loss95 int // water loss reached the limit that protects 95 % of people
}

// PHSState steps the PHS model one minute at a time with conditions that may change
// between steps, as during a training session where weather and effort vary. PHS
// itself is a loop over it.
//
// The zero value is not ready to use; call NewPHSState.
type PHSState struct {
	edition      Edition
	acclimatised bool
	adu          float64 // DuBois body surface, m²
	spHeat       float64 // body heat capacity per area, W·min/(m²·K)
	lossLimit50  float64 // water loss limits, g
	lossLimit95  float64

	minute                    int
	tre, tcr, tsk, tcrEq, skW float64
	swp                       float64 // predicted sweat rate, W/m²
	swSum                     float64 // Σ (SWp + Eres) over minutes, W·min/m²
	limits                    PHSLimits
}

// NewPHSState returns the model at minute 0 for the person of in: mass, height,
// acclimatisation, drinking and edition. The environment fields of in are not used;
// pass them to Step.
func NewPHSState(in PHSInput) (*PHSState, error) {
	mass, height := in.MassKg, in.HeightM
	if mass == 0 {
		mass = defaultMassKg
	}
	if height == 0 {
		height = defaultHeightM
	}
	if err := checkPerson(in, mass, height); err != nil {
		return nil, err
	}

	s := &PHSState{
		edition: in.Edition, acclimatised: in.Acclimatised,
		adu: BodySurfaceArea(mass, height),
		tre: startCoreC, tcr: startCoreC, tcrEq: startCoreC, tsk: startSkinC, skW: startSkinW,
	}
	s.spHeat = s.heatCapacity() * mass / s.adu
	s.lossLimit50, s.lossLimit95 = s.lossLimits(in.FreeDrinking, mass)
	return s, nil
}

// checkPerson rejects a person or an exposure that no model can use.
func checkPerson(in PHSInput, mass, height float64) error {
	switch {
	case !(mass > 0) || math.IsInf(mass, 0):
		return fmt.Errorf("%w: body mass %v kg", ErrInvalidInput, in.MassKg)
	case !(height > 0) || math.IsInf(height, 0):
		return fmt.Errorf("%w: height %v m", ErrInvalidInput, in.HeightM)
	case in.DurationMin < 0 || in.DurationMin > maxDurationMin:
		return fmt.Errorf("%w: duration %d min", ErrInvalidInput, in.DurationMin)
	case in.Edition > PHS2023:
		return fmt.Errorf("%w: edition %d", ErrInvalidInput, in.Edition)
	}
	return nil
}

// heatCapacity returns the body's specific heat in W·min/(kg·K): 57.83 in the 2004
// programme, 3490 J/(kg·K) per minute in the 2023 one.
func (s *PHSState) heatCapacity() float64 {
	if s.edition == PHS2023 {
		return 3490.0 / 60
	}
	return 57.83
}

// lossLimits returns the water-loss limits in grams. With free drinking, 2004 allows
// 7.5 % of body mass for an average person and 5 % to protect 95 % of people, 2023
// a single 5 %. Without it both editions allow 3 %. (The 2004 programme applies the
// 3 % rule as 0.6 × the 95 % time inside its minute loop, which compounds; we apply
// the limit that the text states.)
func (s *PHSState) lossLimits(freeDrinking bool, mass float64) (p50, p95 float64) {
	grams := mass * 1000
	switch {
	case !freeDrinking:
		return 0.03 * grams, 0.03 * grams
	case s.edition == PHS2023:
		return 0.05 * grams, 0.05 * grams
	default:
		return 0.075 * grams, 0.05 * grams
	}
}

// Limits returns the minutes at which the exposure limits were first reached.
func (s *PHSState) Limits() PHSLimits { return s.limits }

// Step advances the model by one minute under conditions c and returns the state at
// the end of that minute. Invalid conditions return ErrInvalidInput (wrapped) and
// leave the state unchanged.
func (s *PHSState) Step(c PHSConditions) (PHSMinute, error) {
	if err := c.validate(); err != nil {
		return PHSMinute{}, err
	}
	s.minute++
	tre0, tcr0, tsk0, skW0 := s.tre, s.tcr, s.tsk, s.skW
	ex := newExchange(c, s.edition)

	// Heat stored as the core warms towards the equilibrium set by the metabolic rate.
	tcrEq0 := s.tcrEq
	s.tcrEq = tcrEq0*decayCore + s.coreEquilibrium(c.Met)*(1-decayCore)
	storedEq := s.spHeat * (s.tcrEq - tcrEq0) * (1 - skW0)

	// The 2023 programme starts the skin at its equilibrium instead of 34.1 °C.
	skinEq := skinEquilibrium(c, tre0)
	s.tsk = tsk0*decaySkin + skinEq*(1-decaySkin)
	if s.edition == PHS2023 && s.minute == 1 {
		s.tsk = skinEq
	}

	conv, rad := ex.dryHeatLoss(c, s.tsk)
	emax := (saturatedPressureKPa(s.tsk) - c.Pa) / ex.rtDyn
	ereq := c.Met - storedEq - c.Work - ex.cres - ex.eres - conv - rad
	swReq, ereq, emax := requiredSweat(ereq, emax, s.maxSweat(c.Met))

	s.swp = s.swp*decaySweat + swReq*(1-decaySweat)
	evap := s.predictedEvaporation(emax)

	storage := ereq - evap + storedEq
	s.tcr, s.skW = solveCore(storage/s.spHeat, tcr0, tsk0, s.tsk, skW0)
	s.tre = tre0 + (2*s.tcr-1.962*tre0-1.31)/9

	s.swSum += s.swp + ex.eres
	m := PHSMinute{
		Minute: s.minute, Tre: s.tre, Tsk: s.tsk, Tcr: s.tcr, SWp: s.swp,
		SWtotG: s.swSum * 2.67 * s.adu / 1.8 / 60, Ereq: ereq, Emax: emax,
	}
	s.noteLimits(m)
	return m, nil
}

// coreEquilibrium returns the core temperature (°C) that metabolic rate met (W/m²)
// leads to at steady state.
func (s *PHSState) coreEquilibrium(met float64) float64 {
	if s.edition == PHS2023 {
		return 0.0036*(met-55) + 36.8
	}
	return 0.0036*met + 36.6
}

// maxSweat returns the maximum sweat rate (W/m²). The 2004 rule multiplies W/m² by
// m² and clips the result as W/m²; that is how the standard states it.
func (s *PHSState) maxSweat(met float64) float64 {
	if s.edition == PHS2023 {
		if s.acclimatised {
			return 500
		}
		return 400
	}

	sw := math.Min(math.Max((met-32)*s.adu, 250), 400)
	if s.acclimatised {
		sw *= 1.25
	}
	return sw
}

// predictedEvaporation returns the evaporative heat flow (W/m²) that the predicted
// sweat rate achieves, given the maximum emax; it zeroes a negative sweat rate.
func (s *PHSState) predictedEvaporation(emax float64) float64 {
	if s.swp <= 0 {
		s.swp = 0
		return 0
	}

	maxWettedness := 0.85
	if s.acclimatised {
		maxWettedness = 1
	}
	k := emax / s.swp
	w := 1.0
	if k >= 0.5 {
		w = -k + math.Sqrt(k*k+2)
	}
	return math.Min(w, maxWettedness) * emax
}

// noteLimits records the first minute at which m reaches each exposure limit.
func (s *PHSState) noteLimits(m PHSMinute) {
	if s.limits.Tre == 0 && m.Tre >= 38 {
		s.limits.Tre = m.Minute
	}
	if s.limits.Loss50 == 0 && m.SWtotG >= s.lossLimit50 {
		s.limits.Loss50 = m.Minute
	}
	if s.limits.Loss95 == 0 && m.SWtotG >= s.lossLimit95 {
		s.limits.Loss95 = m.Minute
	}
}
