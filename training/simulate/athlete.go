package simulate

import (
	"fmt"
	"math"
)

// Sport is what an athlete trains for; its value is the sport's name in FIT files.
type Sport string

// The sports of the simulated cohort.
const (
	Running          Sport = "running"
	Cycling          Sport = "cycling"
	Soccer           Sport = "soccer"
	AmericanFootball Sport = "american_football"
	Basketball       Sport = "basketball"
	Tennis           Sport = "tennis"
)

// sportTraits holds what the generator assumes about each sport.
type sportTraits struct {
	sport Sport
	share float64 // share of the cohort's athletes

	clo    float64 // clothing (and equipment) insulation, clo
	indoor float64 // probability that a session is indoors

	vo2max   float64 // mean maximal oxygen uptake of men, ml/kg/min (women 12 % less)
	bmiShift float64 // added to the population's mean body-mass index, kg/m²

	// sweatMedian is the median sweat propensity: it scales PHS's sweat so that the
	// sport's session sweat rates land near the published ones (Barnes 2019; tennis,
	// which Barnes does not report, is given the overall mean of Baker 2016).
	sweatMedian float64

	profiles  [numProfiles]float64 // weight of each effort profile
	drinkGap  [2]float64           // minutes between drinking chances, low and high
	gameSpeed float64              // running speed at full effort in team sports, m/s
}

// sports is the table of sport traits; shares sum to one.
var sports = []sportTraits{
	{sport: Running, share: 0.25, clo: 0.3, indoor: 0.05, vo2max: 60, bmiShift: -1.5,
		sweatMedian: 1.94, profiles: [numProfiles]float64{0.55, 0.45, 0},
		drinkGap: [2]float64{15, 25}},
	{sport: Cycling, share: 0.20, clo: 0.4, indoor: 0.10, vo2max: 60, bmiShift: -0.5,
		sweatMedian: 2.45, profiles: [numProfiles]float64{0.6, 0.4, 0},
		drinkGap: [2]float64{8, 15}},
	{sport: Soccer, share: 0.20, clo: 0.4, indoor: 0, vo2max: 56, bmiShift: 0,
		sweatMedian: 1.19, profiles: [numProfiles]float64{0, 0.35, 0.65},
		drinkGap: [2]float64{12, 25}, gameSpeed: 4.2},
	{sport: AmericanFootball, share: 0.10, clo: 0.9, indoor: 0.05, vo2max: 48,
		bmiShift: 5, sweatMedian: 1.83, profiles: [numProfiles]float64{0, 0.4, 0.6},
		drinkGap: [2]float64{8, 15}, gameSpeed: 3.2},
	{sport: Basketball, share: 0.15, clo: 0.35, indoor: 1, vo2max: 53, bmiShift: 0.5,
		sweatMedian: 1.47, profiles: [numProfiles]float64{0, 0.35, 0.65},
		drinkGap: [2]float64{8, 15}, gameSpeed: 3.4},
	{sport: Tennis, share: 0.10, clo: 0.4, indoor: 0.2, vo2max: 52, bmiShift: 0,
		sweatMedian: 2.02, profiles: [numProfiles]float64{0, 0.3, 0.7},
		drinkGap: [2]float64{6, 12}, gameSpeed: 2.6},
}

// traitsOf returns the traits of a sport of the table.
func traitsOf(s Sport) *sportTraits {
	for i := range sports {
		if sports[i].sport == s {
			return &sports[i]
		}
	}
	panic(fmt.Sprintf("simulate: sport %q not in the table", s))
}

// Athlete holds the traits of one simulated athlete; they do not change between
// sessions.
type Athlete struct {
	ID       string
	Sport    Sport
	Sex      string // "F" or "M"
	AgeYears int

	HeightM float64 // standing height, m
	MassKg  float64 // euhydrated body mass, kg

	RestingHR float64 // resting heart rate, bpm
	MaxHR     float64 // maximal heart rate, bpm; only injected spikes exceed it
	VO2Max    float64 // maximal oxygen uptake, ml/kg/min

	// Acclimatised says whether the athlete is heat-acclimatised (PHS's flag).
	Acclimatised bool

	// SweatPropensity multiplies the sweat rate PHS predicts for the athlete.
	SweatPropensity float64

	// DrinkRatio is the share of the sweat lost that the athlete tends to drink back;
	// below 1 under-drinks, above 1 over-drinks.
	DrinkRatio float64

	// HROffset is the athlete's steady distance from the ECTemp observation curve,
	// bpm, and HREffortGain the heart rate that full effort adds to it while the body
	// is still cool, bpm.
	HROffset, HREffortGain float64

	// SkinSensorOffset is the bias of the athlete's skin-temperature sensor, °C.
	SkinSensorOffset float64
}

// newAthlete draws the traits of athlete number i (from 0) from its own stream.
func newAthlete(seed uint64, i int) Athlete {
	r := newRand(seed, streamAthlete, i, 0)
	shares := make([]float64, len(sports))
	for k := range sports {
		shares[k] = sports[k].share
	}
	st := &sports[pick(r, shares)]
	a := Athlete{ID: fmt.Sprintf("sim%05d", i+1), Sport: st.sport, Sex: "M"}

	// Body size: height by sex, mass from a body-mass index typical of the sport.
	female := r.Float64() < 0.4
	height, bmi, vo2 := normal(r, 1.79, 0.07, 1.60, 2.05), 23.5, st.vo2max
	if female {
		a.Sex = "F"
		height, bmi, vo2 = normal(r, 1.67, 0.065, 1.50, 1.90), 21.8, st.vo2max*0.88
	}
	bmi = normal(r, bmi+st.bmiShift, 1.8, 18, 36)
	a.HeightM = round(height, 0.01)
	a.MassKg = round(bmi*a.HeightM*a.HeightM, 0.1)
	a.AgeYears = 18 + int(math.Floor(22*r.Float64()*r.Float64()+10*r.Float64()))
	a.VO2Max = round(normal(r, vo2, 5, 35, 85), 0.1)

	// Heart rate: resting lower in fitter athletes; maximum after Tanaka 2001.
	a.RestingHR = math.Round(normal(r, 100-0.75*a.VO2Max, 6, 38, 80))
	a.MaxHR = math.Round(normal(r, 208-0.7*float64(a.AgeYears), 7, 170, 215))
	a.HROffset = round(normal(r, 0.4*(a.RestingHR-57), 6, -20, 20), 0.1)
	a.HREffortGain = round(normal(r, 80, 12, 45, 115), 0.1)

	a.Acclimatised = r.Float64() < 0.45
	a.SweatPropensity = round(logNormal(r, st.sweatMedian, sweatSigma), 0.001)
	a.DrinkRatio = round(clamp(logNormal(r, 0.6, 0.4), 0.05, 1.3), 0.01)
	a.SkinSensorOffset = round(normal(r, 0, 0.5, -1.5, 1.5), 0.01)
	return a
}

// sweatSigma is the log-scale spread of sweat propensity between athletes of a sport.
const sweatSigma = 0.35

// surfaceArea returns the athlete's DuBois body surface area, m².
func (a *Athlete) surfaceArea() float64 {
	return 0.202 * math.Pow(a.MassKg, 0.425) * math.Pow(a.HeightM, 0.725)
}

// maxMetabolicW returns the athlete's metabolic rate at maximal oxygen uptake, W
// (20.1 kJ per litre of oxygen).
func (a *Athlete) maxMetabolicW() float64 { return a.VO2Max * a.MassKg * 20.1 / 60 }

// restMetabolicW returns the metabolic rate of standing at rest, W.
func (a *Athlete) restMetabolicW() float64 { return 1.3 * a.MassKg }
