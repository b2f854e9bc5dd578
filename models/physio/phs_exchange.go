package physio

import "math"

// Iteration limits for the two fixed-point solutions of each PHS minute. Both
// converge in a handful of steps for any sensible input; the caps only guarantee
// that odd inputs cannot hang a caller.
const (
	maxIterations = 200
	convergedC    = 0.001 // °C
)

// clothEmissivity is the emissivity of ordinary clothing; with no reflective
// garment the standard's clothing radiation factor reduces to it.
const clothEmissivity = 0.97

// exchange holds the heat-exchange properties of one minute that do not depend on
// the body's temperatures: clothing, relative air speed and respiration.
type exchange struct {
	vAir   float64 // air speed relative to the body, m/s
	fcl    float64 // clothing area factor
	iclDyn float64 // dynamic clothing insulation, m²·K/W
	rtDyn  float64 // dynamic total evaporative resistance, m²·kPa/W
	cres   float64 // respiratory convection, W/m²
	eres   float64 // respiratory evaporation, W/m²
}

// newExchange computes the clothing and respiration terms of ISO 7933 Annex A for
// conditions c: static insulation corrected for wind and walking.
func newExchange(c PHSConditions, e Edition) exchange {
	vAir, walk := relativeAirSpeed(c)
	ex := exchange{vAir: vAir, fcl: 1 + 0.3*c.Icl}
	if e == PHS2023 {
		ex.fcl = 1 + 0.28*c.Icl
	}

	const iaStatic = 0.111 // boundary-layer insulation in still air, m²·K/W
	itotStatic := 0.155*c.Icl + iaStatic/ex.fcl
	vAux, wAux := math.Min(vAir, 3), math.Min(walk, 1.5)
	corCl := math.Min(1, 1.044*math.Exp((0.066*vAux-0.398)*vAux+(0.094*wAux-0.378)*wAux))
	vIa := vAir // the 2004 programme leaves this speed uncapped
	if e == PHS2023 {
		vIa = vAux
	}
	corIa := math.Min(1, math.Exp((0.047*vIa-0.472)*vIa+(0.117*wAux-0.342)*wAux))

	// Light clothing blends the nude (boundary layer) and clothed corrections.
	corTot := corCl
	if c.Icl <= 0.6 {
		corTot = ((0.6-c.Icl)*corIa + c.Icl*corCl) / 0.6
	}
	itotDyn := itotStatic * corTot
	ex.iclDyn = itotDyn - corIa*iaStatic/ex.fcl

	const imStatic = 0.38 // static moisture permeability index
	imDyn := math.Min(imStatic*((2.6*corTot-6.5)*corTot+4.9), 0.9)
	ex.rtDyn = itotDyn / imDyn / 16.7

	tExp := 28.56 + 0.115*c.Ta + 0.641*c.Pa
	ex.cres = 0.001516 * c.Met * (tExp - c.Ta)
	ex.eres = 0.00127 * c.Met * (59.34 + 0.53*c.Ta - 11.63*c.Pa)
	return ex
}

// relativeAirSpeed returns the air speed relative to the body and the walking speed
// (m/s). Without a walking speed the standard infers one from the metabolic rate
// and leaves the air speed as measured.
func relativeAirSpeed(c PHSConditions) (vAir, walk float64) {
	if !given(c.WalkSpeed) {
		// Below 58 W/m² the inferred speed would be negative; nobody walks backwards.
		return c.Va, math.Max(0, math.Min(0.0052*(c.Met-58), 0.7))
	}
	if given(c.WalkAngleDeg) {
		return math.Abs(c.Va - c.WalkSpeed*math.Cos(c.WalkAngleDeg*math.Pi/180)), c.WalkSpeed
	}
	return math.Max(c.Va, c.WalkSpeed), c.WalkSpeed
}

// dryHeatLoss returns convection and radiation from the clothed body (W/m²) at skin
// temperature tsk, solving for the clothing surface temperature.
func (ex exchange) dryHeatLoss(c PHSConditions, tsk float64) (conv, rad float64) {
	z := 3.5 + 5.2*ex.vAir
	if ex.vAir > 1 {
		z = 8.7 * math.Pow(ex.vAir, 0.6)
	}
	hc := math.Max(2.38*math.Pow(math.Abs(tsk-c.Ta), 0.25), z)
	radFactor := 5.67e-8 * c.Posture.radiatingShare() * clothEmissivity

	tcl, hr := tsk, 0.0
	if ex.iclDyn > 1e-9 {
		tcl, hr = ex.clothingSurface(c, tsk, hc, radFactor)
	} else {
		hr = radiativeCoefficient(radFactor, tcl, c.Tr)
	}
	return ex.fcl * hc * (tcl - c.Ta), ex.fcl * hr * (tcl - c.Tr)
}

// clothingSurface solves the clothing surface temperature (°C) by damped fixed-point
// iteration from tr + 0.1 °C, as the standard does, and returns it with the
// radiative coefficient (W/(m²·K)) at that temperature.
func (ex exchange) clothingSurface(c PHSConditions, tsk, hc, radFactor float64) (tcl, hr float64) {
	tcl = c.Tr + 0.1
	for range maxIterations {
		hr = radiativeCoefficient(radFactor, tcl, c.Tr)
		next := (ex.fcl*(hc*c.Ta+hr*c.Tr) + tsk/ex.iclDyn) / (ex.fcl*(hc+hr) + 1/ex.iclDyn)
		if math.Abs(tcl-next) <= convergedC {
			break
		}
		tcl = (tcl + next) / 2
	}
	return tcl, hr
}

// radiativeCoefficient returns σ·ε·Ar/ADu·(T1⁴ − T2⁴)/(T1 − T2) for surface t1 and
// radiant t2 (°C), factored so that it stays finite when t1 = t2.
func radiativeCoefficient(radFactor, t1, t2 float64) float64 {
	a, b := t1+273, t2+273
	return radFactor * (a*a + b*b) * (a + b)
}

// skinEquilibrium returns the steady-state mean skin temperature (°C) for conditions
// c and rectal temperature tre: the clothed formula from 0.6 clo, the nude one up to
// 0.2 clo, interpolated between.
func skinEquilibrium(c PHSConditions, tre float64) float64 {
	clothed := 12.165 + 0.02017*c.Ta + 0.04361*c.Tr + 0.19354*c.Pa - 0.25315*c.Va +
		0.005346*c.Met + 0.51274*tre
	nude := 7.191 + 0.064*c.Ta + 0.061*c.Tr + 0.198*c.Pa - 0.348*c.Va + 0.616*tre
	switch {
	case c.Icl >= 0.6:
		return clothed
	case c.Icl <= 0.2:
		return nude
	default:
		return nude + 2.5*(clothed-nude)*(c.Icl-0.2)
	}
}

// saturatedPressureKPa returns the saturated water-vapour pressure (kPa) at t (°C).
func saturatedPressureKPa(t float64) float64 {
	return 0.6105 * math.Exp(17.27*t/(t+237.3))
}

// requiredSweat returns the sweat rate (W/m²) needed to evaporate ereq given the
// maximum evaporation emax and the ceiling swMax, together with ereq and emax as the
// standard clips them (no negative requirement; no negative maximum once sweat is
// required).
func requiredSweat(ereq, emax, swMax float64) (sw, ereqOut, emaxOut float64) {
	switch {
	case ereq <= 0:
		return 0, 0, emax
	case emax <= 0:
		return swMax, ereq, 0
	}

	wReq := ereq / emax
	if wReq >= 1.7 {
		return swMax, ereq, emax
	}
	// Evaporation efficiency falls as the skin gets wetter and sweat drips.
	eff := 1 - wReq*wReq/2
	if wReq > 1 {
		eff = (2 - wReq) * (2 - wReq) / 2
	}
	return math.Min(ereq/eff, swMax), ereq, emax
}

// solveCore returns the core temperature (°C) and the skin share of the skin–core
// weighting after a minute in which the body stored rise °C worth of heat, given the
// previous core and skin temperatures and weighting and the new skin temperature.
// The weighting depends on the core temperature, hence the iteration.
func solveCore(rise, tcr0, tsk0, tsk, skW0 float64) (tcr, skW float64) {
	guess := tcr0
	for range maxIterations {
		skW = math.Min(math.Max(0.3-0.09*(guess-36.8), 0.1), 0.3)
		tcr = rise + tsk0*skW0/2 - tsk*skW/2
		tcr = (tcr + tcr0*(1-skW0/2)) / (1 - skW/2)
		if math.Abs(tcr-guess) <= convergedC {
			break
		}
		guess = (guess + tcr) / 2
	}
	return tcr, skW
}
