package inference

import (
	"time"
)

// Assessment is an athlete's hydration and heat-strain state at one instant, as the
// server computes it. Fields mirror the hydrocast.v1 Assessment message.
type Assessment struct {
	AthleteID string
	Time      time.Time

	// HeartRateBPM is the mean heart rate of the last 5 minutes; NaN without one.
	HeartRateBPM float64

	SweatRateLPerH      float64
	SweatRateLowerLPerH float64
	SweatRateUpperLPerH float64

	// CoreTempC is the current ECTemp estimate; the others are projections.
	CoreTempC    float64
	CoreTemp15mC float64
	CoreTemp30mC float64
	CoreTemp60mC float64

	AnomalyScore    float64
	FluidMLPer15Min float64
	Alerts          []string

	// ModelVersions maps each model name to the version that served it.
	ModelVersions map[string]string

	FeatureSchemaVersion uint32
	FreshestReading      time.Time
	WBGTC                float64 // NaN when no weather reading is known
	StrainIndex          float64 // NaN when no baseline is known
	ElapsedMin           float64
	// FeatureStatus names the model inputs that were not present ("missing", "stale").
	FeatureStatus map[string]string
}

// FreshestReadingAge returns how old the freshest reading was at the assessment time.
func (a *Assessment) FreshestReadingAge() time.Duration {
	if a.FreshestReading.IsZero() {
		return 0
	}
	return a.Time.Sub(a.FreshestReading)
}
