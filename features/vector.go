package features

import (
	"math"
	"time"
)

// Status says whether a feature value can be used. The numeric values are part of the
// stored formats (Arrow, Parquet): never renumber them.
type Status uint8

// The statuses of a feature value. The zero value is StatusMissing, so a vector that
// was never filled reads as all missing.
const (
	// StatusMissing means there is no value: no reading behind it, or too few to
	// compute it. The value is NaN.
	StatusMissing Status = iota
	// StatusPresent means the value is computed from readings younger than the
	// feature's TTL.
	StatusPresent
	// StatusStale means the value is computed, but its freshest reading is older than
	// the feature's TTL at the vector's as-of time.
	StatusStale
)

// String returns the status's lower-case name.
func (s Status) String() string {
	switch s {
	case StatusMissing:
		return "missing"
	case StatusPresent:
		return "present"
	case StatusStale:
		return "stale"
	}
	return "invalid"
}

// Vector is one athlete's features at one instant, in the order of the schema named
// by SchemaVersion. Values, Status and EventUnixMilli have one entry per feature.
type Vector struct {
	SchemaVersion int
	AthleteID     string
	AsOf          time.Time // the instant the features describe; no reading after it is used

	Values []float64 // NaN where the status is StatusMissing
	Status []Status

	// EventUnixMilli is, per feature, the event time of the freshest reading behind
	// it in Unix milliseconds; zero when no reading is behind it (a missing feature,
	// the count of an empty window). Integers rather than time.Time keep a vector
	// small and cheap to fill.
	EventUnixMilli []int64

	// FreshestReading is the event time of the newest reading the vector drew on;
	// the zero time when it drew on none. Its age at AsOf goes with every prediction.
	FreshestReading time.Time
}

// NewVector returns a vector sized for the current schema, every feature missing.
func NewVector() *Vector {
	v := &Vector{}
	v.Reset("", time.Time{})
	return v
}

// Reset makes v the vector of athlete at asOf with every feature missing, sized for
// the current schema (allocating only when it is too small): what a store returns
// for an athlete it knows nothing of.
func (v *Vector) Reset(athlete string, asOf time.Time) {
	n := currentSchema.Len()
	if cap(v.Values) < n || cap(v.Status) < n || cap(v.EventUnixMilli) < n {
		v.Values = make([]float64, n)
		v.Status = make([]Status, n)
		v.EventUnixMilli = make([]int64, n)
	}
	v.Values, v.Status, v.EventUnixMilli = v.Values[:n], v.Status[:n], v.EventUnixMilli[:n]

	nan := math.NaN()
	for i := range v.Values {
		v.Values[i] = nan
	}
	clear(v.Status)
	clear(v.EventUnixMilli)
	v.SchemaVersion = SchemaVersion
	v.AthleteID = athlete
	v.AsOf = asOf
	v.FreshestReading = time.Time{}
}

// Get returns the named feature's value and status; ok is false when the schema has
// no such feature.
func (v *Vector) Get(name string) (value float64, status Status, ok bool) {
	i, ok := currentSchema.Index(name)
	if !ok || i >= len(v.Values) {
		return math.NaN(), StatusMissing, false
	}
	return v.Values[i], v.Status[i], true
}

// EventTime returns the event time of the freshest reading behind feature i, or the
// zero time when no reading is behind it.
func (v *Vector) EventTime(i int) time.Time {
	if v.EventUnixMilli[i] == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v.EventUnixMilli[i]).UTC()
}

// set stores a computed feature: present, or stale when its freshest reading at
// eventMs is older than the feature's TTL.
func (v *Vector) set(i int, value float64, eventMs, asOfMs int64) {
	v.Values[i] = value
	v.EventUnixMilli[i] = eventMs
	v.Status[i] = StatusPresent
	if ttl := currentSchema.features[i].TTL; ttl > 0 && asOfMs-eventMs > ttl.Milliseconds() {
		v.Status[i] = StatusStale
	}
}

// Gather copies the features at positions idx of v into dst, in that order, as the
// input row of a model; dst must be at least len(idx) long. It returns the positions
// k (into idx and dst) whose feature is not present: dst[k] is NaN for a missing
// feature and the last known value for a stale one, and the caller decides whether
// to impute, to pass them on or to refuse. Missing is nil when every feature is
// present, so the common case does not allocate.
func Gather(v *Vector, idx []int, dst []float32) (missing []int) {
	for k, i := range idx {
		dst[k] = float32(v.Values[i])
		if v.Status[i] != StatusPresent {
			missing = append(missing, k)
		}
	}
	return missing
}
