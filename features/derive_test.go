package features

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/models/physio"
)

// rampHR is the heart rate of the derived-feature tests at 30-second step i.
func rampHR(i int) float64 { return float64(95 + 3*i%50) }

func TestECTempOnMinuteMeans(t *testing.T) {
	// 30-second heart rate from 09:00:15 to 09:19:45 with minute 09:07 silent, fed up
	// to asOf. The filter by hand: one Step per closed minute with the minute's mean,
	// a Skip for the silent one; PSI against the mean of the first three minutes.
	cases := []struct {
		name string
		asOf time.Time
	}{
		{"mid-minute", t0.Add(19*time.Minute + 50*time.Second)},
		{"on a minute boundary", t0.Add(19 * time.Minute)},
		{"just after the silent minute", t0.Add(8*time.Minute + 5*time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newTestWindow()
			minuteSum := map[int]float64{}
			minuteN := map[int]float64{}
			for i := range 40 {
				at := t0.Add(15*time.Second + time.Duration(i)*30*time.Second)
				if at.Minute() == 7 || at.After(c.asOf) {
					continue
				}
				w.Add(hrReading(at, rampHR(i)))
				minuteSum[at.Minute()] += rampHR(i)
				minuteN[at.Minute()]++
			}

			f := physio.NewECTemp(physio.ECTempDefaultCT)
			var lastMinute float64
			for m := 0; !t0.Add(time.Duration(m+1) * time.Minute).After(c.asOf); m++ {
				if minuteN[m] == 0 {
					f.Skip()
					continue
				}
				lastMinute = minuteSum[m] / minuteN[m]
				f.Step(lastMinute)
			}
			wantCT, _ := f.Estimate()
			hr0 := (minuteSum[0]/minuteN[0] + minuteSum[1]/minuteN[1] +
				minuteSum[2]/minuteN[2]) / 3

			v := NewVector()
			w.Vector(c.asOf, v)
			wantFeature(t, v, "core_temp_ectemp_c", wantCT, StatusPresent)
			wantFeature(t, v, "psi",
				physio.PSI(physio.ECTempDefaultCT, hr0, wantCT, lastMinute), StatusPresent)
		})
	}
}

func TestPSINeedsBaseline(t *testing.T) {
	w := newTestWindow()
	for i := range 5 { // 09:00:00 to 09:02:00: two closed minutes by 09:02:30
		w.Add(hrReading(t0.Add(time.Duration(i)*30*time.Second), 100))
	}
	v := NewVector()
	w.Vector(t0.Add(150*time.Second), v)
	if _, st := feature(t, v, "core_temp_ectemp_c"); st != StatusPresent {
		t.Errorf("core temperature %v after two minutes, want present", st)
	}
	wantFeature(t, v, "psi", 0, StatusMissing)
}

func TestSessionGap(t *testing.T) {
	cases := []struct {
		name       string
		gap        time.Duration
		newSession bool
	}{
		{"gap of exactly the session gap", SessionGap, false},
		{"gap just over", SessionGap + 31*time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newTestWindow()
			var at time.Time
			for i := range 20 {
				at = t0.Add(time.Duration(i) * 30 * time.Second)
				w.Add(reading("watch", at, map[Signal]float64{HeartRate: 160, FluidIntake: 50}))
			}
			resume := at.Add(c.gap)
			w.Add(reading("watch", resume, map[Signal]float64{HeartRate: 160}))
			asOf := resume.Add(30 * time.Second)

			v := NewVector()
			w.Vector(asOf, v)
			if c.newSession {
				wantFeature(t, v, "elapsed_min", 0.5, StatusPresent)
				wantFeature(t, v, "fluid_cum_ml", 0, StatusMissing)
				// The filter restarted and has no closed minute of the new session yet.
				wantFeature(t, v, "core_temp_ectemp_c", 0, StatusMissing)
				return
			}
			wantFeature(t, v, "elapsed_min", float64(asOf.Sub(t0))/float64(time.Minute),
				StatusPresent)
			wantFeature(t, v, "fluid_cum_ml", 20*50, StatusPresent)
			ct, _ := feature(t, v, "core_temp_ectemp_c")
			if !(ct > physio.ECTempDefaultCT) {
				t.Errorf("core temperature %v, want the filter to have warmed up", ct)
			}
		})
	}
}

func TestFluidAndBodyMass(t *testing.T) {
	w := newTestWindow()
	weighIn := t0.Add(-3 * time.Hour) // the morning weigh-in, a session of its own
	w.Add(reading("scale", weighIn, map[Signal]float64{BodyMass: 70.5}))
	w.Add(hrReading(t0, 120))
	w.Add(reading("bottle", t0.Add(10*time.Minute), map[Signal]float64{FluidIntake: 150}))
	w.Add(reading("bottle", t0.Add(20*time.Minute), map[Signal]float64{FluidIntake: 250}))
	w.Add(hrReading(t0.Add(25*time.Minute), 130))

	cases := []struct {
		name  string
		asOf  time.Time
		fluid float64
		fSt   Status
	}{
		{"after both drinks", t0.Add(25 * time.Minute), 400, StatusPresent},
		{"session over", t0.Add(25*time.Minute + SessionGap + time.Minute), 400, StatusStale},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := NewVector()
			w.Vector(c.asOf, v)
			wantFeature(t, v, "fluid_cum_ml", c.fluid, c.fSt)
			wantFeature(t, v, "body_mass_kg", 70.5, StatusPresent)
		})
	}

	v := NewVector()
	w.Vector(weighIn.Add(8*24*time.Hour), v)
	wantFeature(t, v, "body_mass_kg", 70.5, StatusStale)
}

func TestMetabolicRate(t *testing.T) {
	const bsa75 = 1.938 // m², DuBois for 75 kg and 1.80 m (science sheet §1)
	wPerM2 := func(vo2 float64) float64 { return vo2 * 75 * 20.2 / 60 / bsa75 }
	cases := []struct {
		name    string
		signals map[Signal]float64
		want    float64
		status  Status
	}{
		// Running at 3 m/s = 180 m/min: VO2 = 3.5 + 0.2·180 = 39.5 ml/kg/min.
		{"running", map[Signal]float64{Speed: 3, HeartRate: 170}, wPerM2(39.5), StatusPresent},
		// Walking pace: from heart rate, 125 bpm is half the reserve 60..190:
		// VO2 = 3.5 + 0.5·(45 − 3.5) = 24.25.
		{"walking", map[Signal]float64{Speed: 1.4, HeartRate: 125}, wPerM2(24.25), StatusPresent},
		// A power meter means a bicycle, whatever the speed.
		{"cycling", map[Signal]float64{Speed: 3, Power: 200, HeartRate: 125}, wPerM2(24.25),
			StatusPresent},
		{"heart rate above max", map[Signal]float64{HeartRate: 200}, wPerM2(45), StatusPresent},
		{"no speed nor heart rate", map[Signal]float64{SkinTemp: 33}, 0, StatusMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newTestWindow()
			w.Add(reading("watch", t0, c.signals))
			v := NewVector()
			w.Vector(t0, v)
			got, st := feature(t, v, "metabolic_rate_w_per_m2")
			if st != c.status || (st != StatusMissing && math.Abs(got-c.want) > 0.5) {
				t.Errorf("metabolic rate %.2f (%v), want %.2f (%v)", got, st, c.want, c.status)
			}
		})
	}
}

func TestWeatherFeatures(t *testing.T) {
	// Published and derived checks (science sheet §4): WBGT 30 °C / 50 % → 29.26;
	// heat index 90 °F / 50 % → 34.7761 °C.
	cases := []struct {
		ta, rh      float64
		wbgt, index float64
	}{
		{30, 50, 29.26, math.NaN()},
		{(90 - 32) * 5.0 / 9, 50, math.NaN(), 34.7761},
	}
	for _, c := range cases {
		w := newTestWindow()
		w.Add(reading("station", t0, map[Signal]float64{AmbientTemp: c.ta}))
		w.Add(reading("station2", t0.Add(time.Minute), map[Signal]float64{Humidity: c.rh}))
		v := NewVector()
		w.Vector(t0.Add(time.Minute), v)
		if !math.IsNaN(c.wbgt) {
			got, st := feature(t, v, "wbgt_c")
			if st != StatusPresent || math.Abs(got-c.wbgt) > 0.005 {
				t.Errorf("wbgt(%v, %v) = %v (%v), want %v", c.ta, c.rh, got, st, c.wbgt)
			}
		}
		if !math.IsNaN(c.index) {
			got, st := feature(t, v, "heat_index_c")
			if st != StatusPresent || math.Abs(got-c.index) > 0.001 {
				t.Errorf("heat index(%v, %v) = %v (%v), want %v", c.ta, c.rh, got, st, c.index)
			}
		}
		// The older of the two readings dates the feature.
		if got := v.EventTime(idxWBGT); !got.Equal(t0) {
			t.Errorf("wbgt event time %v, want %v", got, t0)
		}
	}
}

// measureHeapPerWindow returns the live heap per window of n windows made by fill.
func measureHeapPerWindow(n int, fill func() *AthleteWindow) int {
	ws := make([]*AthleteWindow, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range ws {
		ws[i] = fill()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ws)
	return int(after.HeapAlloc-before.HeapAlloc) / n
}
