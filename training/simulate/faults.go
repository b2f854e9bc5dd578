package simulate

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// FaultKind names a kind of injected sensor fault.
type FaultKind string

// The kinds of sensor fault the generator injects into the watch's readings.
const (
	Dropout    FaultKind = "dropout"    // heart rate missing
	FlatLine   FaultKind = "flat_line"  // value stuck at the last good reading
	Spike      FaultKind = "spike"      // heart rate jumps 50–80 bpm for one or two samples
	Detachment FaultKind = "detachment" // skin sensor lifts off and drifts to air temperature
)

// Fault is the ground-truth label of one injected fault: which readings it touched.
type Fault struct {
	AthleteID string
	SessionID string
	Kind      FaultKind
	Source    string          // device whose readings are faulty
	Signal    features.Signal // the faulty signal
	Start     time.Time       // time of the first faulty reading
	End       time.Time       // time of the last faulty reading (inclusive)
}

// faultShape says how often a kind is drawn, on which signals and for how many
// samples (30 s each).
type faultShape struct {
	kind             FaultKind
	weight           float64
	signals          []features.Signal
	minLen, extraLen int // length is minLen plus up to extraLen-1
}

var faultShapes = []faultShape{
	{Dropout, 0.35, []features.Signal{features.HeartRate}, 1, 10},
	{FlatLine, 0.25, []features.Signal{features.HeartRate, features.SkinTemp}, 4, 17},
	{Spike, 0.25, []features.Signal{features.HeartRate}, 1, 2},
	{Detachment, 0.15, []features.Signal{features.SkinTemp}, 6, 25},
}

// Limits that keep faulty readings inside the plausible ranges of features.Validate,
// so that faults reach the anomaly model rather than being quarantined at ingest.
const (
	spikeMaxBPM       = 240
	detachMinAmbientC = 21  // a detached sensor on cooler days would read below 20 °C
	detachMinGapC     = 3   // below this gap to air temperature a detachment is invisible
	detachTauSamples  = 4.0 // the sensor reaches air temperature with a 2-minute constant
)

// injectFaults draws a Poisson number of faults with the given mean, applies them to
// the session's watch readings and returns their labels. Faults on the same signal
// never overlap or touch: at least one clean sample separates them, and none starts
// at the first sample or ends at the last, so every fault has clean neighbours.
func injectFaults(r *rand.Rand, s *Session, watch []features.Reading,
	samples []sampleState, mean float64) []Fault {
	n := poisson(r, mean)
	busy := map[features.Signal][]bool{}
	weights := make([]float64, len(faultShapes))
	for i, f := range faultShapes {
		weights[i] = f.weight
	}

	var faults []Fault
	for range n {
		shape := &faultShapes[pick(r, weights)]
		sig := shape.signals[r.IntN(len(shape.signals))]
		length := shape.minLen + r.IntN(shape.extraLen)
		if busy[sig] == nil {
			busy[sig] = make([]bool, len(watch))
		}
		start, ok := place(r, busy[sig], length)
		if !ok || !apply(r, shape.kind, sig, watch[start-1:start+length], samples[start:]) {
			continue
		}
		for j := start - 1; j <= start+length; j++ {
			busy[sig][j] = true
		}
		faults = append(faults, Fault{
			AthleteID: s.AthleteID, SessionID: s.ID, Kind: shape.kind, Source: SourceWatch,
			Signal: sig, Start: watch[start].Time, End: watch[start+length-1].Time,
		})
	}
	return faults
}

// place finds a start for a fault of length samples whose span and both neighbours
// are free; it gives up after a few tries on a crowded signal.
func place(r *rand.Rand, busy []bool, length int) (int, bool) {
	room := len(busy) - length - 1 // starts from 1 to room-1 keep a neighbour each side
	if room < 2 {
		return 0, false
	}
	for range 10 {
		start := 1 + r.IntN(room-1)
		free := true
		for j := start - 1; j <= start+length && free; j++ {
			free = !busy[j]
		}
		if free {
			return start, true
		}
	}
	return 0, false
}

// apply corrupts span[1:], whose span[0] is the last clean reading before the fault;
// samples[k] is the state at span[k+1]. It reports false, changing nothing, when the
// fault would be invisible or implausible here.
func apply(r *rand.Rand, kind FaultKind, sig features.Signal, span []features.Reading,
	samples []sampleState) bool {
	last := span[0].Values[sig]
	faulty := span[1:]
	switch kind {
	case Dropout:
		for k := range faulty {
			faulty[k].Set(sig, features.Missing)
		}
	case FlatLine:
		for k := range faulty {
			faulty[k].Set(sig, last)
		}
	case Spike:
		return spike(r, faulty, sig)
	case Detachment:
		air := samples[0].weather.ta
		if air < detachMinAmbientC || math.Abs(last-air) < detachMinGapC {
			return false
		}
		for k := range faulty {
			decay := math.Exp(-float64(k+1) / detachTauSamples)
			v := samples[k].weather.ta + (last-samples[k].weather.ta)*decay
			faulty[k].Set(sig, round(v+0.05*r.NormFloat64(), 0.01))
		}
	}
	return true
}

// spike moves each reading 50–80 bpm away from its clean value, upwards (as when an
// optical sensor locks on to the running cadence) unless that would leave the
// plausible range.
func spike(r *rand.Rand, faulty []features.Reading, sig features.Signal) bool {
	for k := range faulty {
		if !faulty[k].Has(sig) {
			return false
		}
	}
	for k := range faulty {
		v := faulty[k].Values[sig]
		jump := math.Round(uniform(r, 50, 80))
		if v+jump > spikeMaxBPM {
			jump = -jump
		}
		faulty[k].Set(sig, v+jump)
	}
	return true
}
