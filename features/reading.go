// Package features is hydrocast's feature store: the reading schema and its units,
// validation, per-athlete event-time windows, derived physiology features and the
// feature vectors that serving and training both read.
package features

import (
	"fmt"
	"math"
	"time"
)

// Signal identifies one measured quantity of a Reading. Each signal has one unit,
// named in its Name.
type Signal uint8

// The signals a reading can carry. The order is part of the stored formats (WAL,
// snapshots): append new signals at the end, never reorder.
const (
	HeartRate   Signal = iota // beats per minute
	SkinTemp                  // skin or device temperature, °C
	CoreTemp                  // measured core temperature, °C
	AmbientTemp               // air temperature, °C
	Humidity                  // relative humidity, %
	Speed                     // metres per second
	Power                     // watts
	Cadence                   // steps or revolutions per minute
	FluidIntake               // fluid drunk since the previous reading, ml
	BodyMass                  // body mass at a weigh-in, kg

	// NumSignals is the number of signals; it sizes Reading.Values.
	NumSignals
)

var signalNames = [NumSignals]string{
	"heart_rate_bpm", "skin_temp_c", "core_temp_c", "ambient_temp_c", "humidity_pct",
	"speed_m_per_s", "power_w", "cadence_per_min", "fluid_intake_ml", "body_mass_kg",
}

// signalRanges holds the physically plausible range of each signal; a value outside
// it is rejected by Validate.
var signalRanges = [NumSignals][2]float64{
	{20, 250}, // heart rate
	{20, 45},  // skin temperature
	{33, 44},  // core temperature
	{-40, 60}, // ambient temperature
	{0, 100},  // humidity
	{0, 30},   // speed
	{0, 3000}, // power
	{0, 300},  // cadence
	{0, 5000}, // fluid intake per reading
	{20, 250}, // body mass
}

// Name returns the signal's name with its unit suffix, as used in schemas and JSON.
func (s Signal) Name() string {
	if s >= NumSignals {
		return fmt.Sprintf("signal_%d", s)
	}
	return signalNames[s]
}

// Range returns the lowest and highest value Validate accepts for the signal.
func (s Signal) Range() (lo, hi float64) {
	r := signalRanges[s]
	return r[0], r[1]
}

// SignalByName returns the signal with the given name (for example "heart_rate_bpm").
func SignalByName(name string) (Signal, bool) {
	for i, n := range signalNames {
		if n == name {
			return Signal(i), true
		}
	}
	return 0, false
}

// Missing is the value of a signal that a reading does not carry.
var Missing = math.NaN()

// Reading is what one device or sensor reported about one athlete at one instant.
// A signal the reading does not carry is NaN (see Missing and Has); a zero is a
// measured zero.
type Reading struct {
	AthleteID string
	Source    string    // device or sensor id
	Time      time.Time // event time, when the value was measured
	Values    [NumSignals]float64
}

// NewReading returns a reading with every signal missing.
func NewReading(athlete, source string, t time.Time) Reading {
	r := Reading{AthleteID: athlete, Source: source, Time: t}
	for i := range r.Values {
		r.Values[i] = math.NaN()
	}
	return r
}

// Has reports whether the reading carries signal s.
func (r *Reading) Has(s Signal) bool { return !math.IsNaN(r.Values[s]) }

// Get returns the value of signal s and whether it is present.
func (r *Reading) Get(s Signal) (float64, bool) {
	v := r.Values[s]
	return v, !math.IsNaN(v)
}

// Set sets signal s to v.
func (r *Reading) Set(s Signal, v float64) { r.Values[s] = v }

// ValidationError says which field of a reading was wrong and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// MaxAhead is how far past this machine's clock a reading's event time may lie
// before Validate refuses it: device clocks drift, but not by hours.
const MaxAhead = 5 * time.Minute

// Validate checks the reading's identity, its time (present, at most MaxAhead in the
// future) and every present signal against its physical range. It returns a
// *ValidationError naming the first wrong field.
func (r *Reading) Validate() error {
	switch {
	case r.AthleteID == "":
		return &ValidationError{"athlete_id", "empty"}
	case len(r.AthleteID) > 128:
		return &ValidationError{"athlete_id", "longer than 128 bytes"}
	case r.Time.IsZero():
		return &ValidationError{"time", "missing"}
	case r.Time.After(time.Now().Add(MaxAhead)):
		// A clock far ahead would otherwise freeze the athlete's windows: every real
		// reading after it would count as late.
		return &ValidationError{"time", fmt.Sprintf("%s is more than %v ahead of this "+
			"machine's clock", r.Time.UTC().Format(time.RFC3339), MaxAhead)}
	}
	present := 0
	for i, v := range r.Values {
		if math.IsNaN(v) {
			continue
		}
		present++
		s := Signal(i)
		lo, hi := s.Range()
		if math.IsInf(v, 0) || v < lo || v > hi {
			return &ValidationError{s.Name(),
				fmt.Sprintf("%g outside the plausible range %g to %g", v, lo, hi)}
		}
	}
	if present == 0 {
		return &ValidationError{"values", "no signal present"}
	}
	return nil
}
