package simulate

import (
	"math"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// faultKey names one signal of one watch sample.
type faultKey struct {
	at     time.Time
	signal features.Signal
}

// faultySamples returns the samples the faults' labels cover.
func faultySamples(faults []Fault) map[faultKey]bool {
	out := map[faultKey]bool{}
	for _, f := range faults {
		for t := f.Start; !t.After(f.End); t = t.Add(samplePeriod) {
			out[faultKey{t, f.Signal}] = true
		}
	}
	return out
}

// watchOf returns the watch readings of a session, in time order.
func watchOf(rs []features.Reading) []features.Reading {
	var out []features.Reading
	for _, r := range rs {
		if r.Source == SourceWatch {
			out = append(out, r)
		}
	}
	return out
}

// TestFaultLabelsMatchReadings checks each label against the readings it covers, and
// that no heart rate is missing outside a labelled dropout.
func TestFaultLabelsMatchReadings(t *testing.T) {
	o := DefaultOptions()
	o.Athletes, o.FaultsPerHour = 100, 6
	_, results := simulateAll(t, o)

	seen := map[FaultKind]int{}
	for _, res := range results {
		watch := watchOf(res.readings)
		index := map[time.Time]int{}
		for i, r := range watch {
			index[r.Time] = i
		}
		for _, f := range res.faults {
			seen[f.Kind]++
			first, okStart := index[f.Start]
			last, okEnd := index[f.End]
			if !okStart || !okEnd || last < first || f.SessionID != res.session.ID ||
				f.Source != SourceWatch {
				t.Fatalf("fault %+v does not match the session's watch samples", f)
			}
			if first == 0 || last == len(watch)-1 {
				t.Fatalf("fault %+v has no clean neighbour", f)
			}
			air := airAt(res.readings, f.End)
			if err := checkFault(f, watch[first-1:last+2], air); err != "" {
				t.Errorf("%s %s %s at %v: %s", f.SessionID, f.Kind, f.Signal.Name(),
					f.Start.Format(time.TimeOnly), err)
			}
		}

		dropped := map[time.Time]bool{}
		for _, f := range res.faults {
			if f.Kind == Dropout {
				for k := range faultySamples([]Fault{f}) {
					dropped[k.at] = true
				}
			}
		}
		for _, r := range watch {
			if !r.Has(features.HeartRate) && !dropped[r.Time] {
				t.Errorf("%s: heart rate missing at %v without a dropout label",
					res.session.ID, r.Time)
			}
		}
	}

	for _, kind := range []FaultKind{Dropout, FlatLine, Spike, Detachment} {
		if seen[kind] < 10 {
			t.Errorf("%d %s faults injected, want at least 10", seen[kind], kind)
		}
	}
}

// checkFault checks the faulty readings span[1:len-1] against the clean neighbours
// span[0] and span[len-1] and the air temperature at the fault's end; it returns what
// is wrong, or "".
func checkFault(f Fault, span []features.Reading, air float64) string {
	before, after := span[0].Values[f.Signal], span[len(span)-1].Values[f.Signal]
	faulty := span[1 : len(span)-1]
	if math.IsNaN(before) || math.IsNaN(after) {
		return "a neighbour is missing the signal"
	}
	for _, r := range faulty {
		v := r.Values[f.Signal]
		switch f.Kind {
		case Dropout:
			if !math.IsNaN(v) {
				return "value present in a dropout"
			}
		case FlatLine:
			if v != before {
				return "value differs from the stuck one"
			}
		case Spike:
			// Clean heart rate moves little in 30 s; a spike jumps at least 50 bpm.
			if math.Abs(v-before) < 25 || math.Abs(v-after) < 25 {
				return "spike too close to its neighbours"
			}
		}
	}

	if f.Kind == Detachment {
		// The sensor's reading ends much nearer the air than it started.
		if math.Abs(faulty[len(faulty)-1].Values[f.Signal]-air) >
			0.5*math.Abs(before-air) {
			return "skin temperature did not move toward the air temperature"
		}
	}
	return ""
}

// airAt returns the air temperature of the last weather reading at or before t.
func airAt(rs []features.Reading, t time.Time) float64 {
	air := math.NaN()
	for _, r := range rs {
		if r.Source == SourceWeather && !r.Time.After(t) {
			air = r.Values[features.AmbientTemp]
		}
	}
	return air
}
