package physio

// ECTemp coefficients (Buller et al. 2013, Physiol Meas 34:781): the observation curve
// HR = b2·CT² + b1·CT + b0 and the variances of the state and observation noise.
const (
	ecTempB0        = -7887.1
	ecTempB1        = 384.4286
	ecTempB2        = -4.5714
	ecTempStateVar  = 0.022 * 0.022 // γ, °C² per minute
	ecTempObsVar    = 18.88 * 18.88 // σ², bpm²
	ECTempDefaultCT = 37.1          // usual starting core temperature, °C
)

// ECTempPeakC is the core temperature at which the observation curve peaks; the
// filter is meaningful only below it.
const ECTempPeakC = -ecTempB1 / (2 * ecTempB2)

// ECTempHeartRate returns the heart rate (bpm) that the ECTemp observation curve
// expects at core temperature ct (°C): b2·ct² + b1·ct + b0. It is the noise-free mean
// of the filter's observation model, so a heart rate built from it is what the filter
// assumes; the curve rises only below ECTempPeakC.
func ECTempHeartRate(ct float64) float64 {
	return ecTempB2*ct*ct + ecTempB1*ct + ecTempB0
}

// ECTemp is the extended Kalman filter that estimates core temperature from heart
// rate, one step per minute (Buller et al. 2013). With data sampled more often than
// once a minute, average the heart rate of each minute and call Step once per minute.
// A US patent (10,702,165) covers this method.
//
// The zero value is not ready to use; call NewECTemp.
type ECTemp struct {
	ct float64 // current estimate, °C
	v  float64 // variance of the estimate, °C²
}

// NewECTemp returns a filter starting at core temperature ct0 (°C) with zero variance.
func NewECTemp(ct0 float64) ECTemp { return ECTemp{ct: ct0} }

// ECTempFrom returns a filter resuming from an estimate ct (°C) and its variance
// (°C²), as Estimate reported them, for example after a restart.
func ECTempFrom(ct, variance float64) ECTemp { return ECTemp{ct: ct, v: variance} }

// Step advances the filter by one minute with that minute's mean heart rate (bpm) and
// returns the new core-temperature estimate (°C).
func (f *ECTemp) Step(hr float64) float64 {
	x := f.ct
	v := f.v + ecTempStateVar
	c := 2*ecTempB2*x + ecTempB1
	k := v * c / (c*c*v + ecTempObsVar)
	predicted := ecTempB2*x*x + ecTempB1*x + ecTempB0
	f.ct = x + k*(hr-predicted)
	f.v = (1 - k*c) * v
	return f.ct
}

// Skip advances the filter by one minute without an observation: the estimate holds
// and its variance grows.
func (f *ECTemp) Skip() { f.v += ecTempStateVar }

// Estimate returns the current core-temperature estimate (°C) and its variance (°C²).
func (f *ECTemp) Estimate() (ct, variance float64) { return f.ct, f.v }
