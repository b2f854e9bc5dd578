package physio

import (
	"fmt"
	"math"
	"testing"
)

func TestECTempOracles(t *testing.T) {
	cases := []struct {
		hr      float64
		minutes int
		want    float64
	}{
		{150, 1, 37.1041}, {150, 5, 37.1593}, {150, 10, 37.2974}, {150, 30, 37.9952},
		{150, 60, 38.5681}, {150, 120, 38.8638}, {150, 240, 38.9101},
		{100, 10, 37.1505}, {100, 30, 37.3293}, {100, 60, 37.4505},
		{80, 10, 37.0908}, {80, 60, 37.0377},
	}
	for _, c := range cases {
		f := NewECTemp(ECTempDefaultCT)
		var got float64
		for range c.minutes {
			got = f.Step(c.hr)
		}
		if math.Abs(got-c.want) > 0.001 {
			t.Errorf("HR %v for %d min: CT %.4f, want %.4f", c.hr, c.minutes, got, c.want)
		}
	}
}

func TestECTempSteadyState(t *testing.T) {
	want := map[float64]float64{60: 36.614, 80: 37.032, 100: 37.489, 120: 37.998,
		140: 38.580, 160: 39.282, 180: 40.238}
	for hr, ct := range want {
		f := NewECTemp(ECTempDefaultCT)
		var got float64
		for range 20000 {
			got = f.Step(hr)
		}
		if math.Abs(got-ct) > 0.001 {
			t.Errorf("HR %v held: steady CT %.4f, want %.3f", hr, got, ct)
		}
	}
}

func TestECTempHeartRate(t *testing.T) {
	// At a held heart rate the filter settles where the observation curve returns that
	// rate, so the published steady states are points of the curve.
	steady := []struct{ ct, hr float64 }{
		{36.614, 60}, {37.032, 80}, {37.489, 100}, {37.998, 120},
		{38.580, 140}, {39.282, 160}, {40.238, 180},
	}
	for _, c := range steady {
		t.Run(fmt.Sprintf("CT %.3f", c.ct), func(t *testing.T) {
			if got := ECTempHeartRate(c.ct); math.Abs(got-c.hr) > 0.05 {
				t.Errorf("ECTempHeartRate(%.3f) = %.3f bpm, want %.0f", c.ct, got, c.hr)
			}
		})
	}

	t.Run("peak", func(t *testing.T) {
		top := ECTempHeartRate(ECTempPeakC)
		for _, d := range []float64{-0.5, -0.1, 0.1, 0.5} {
			if hr := ECTempHeartRate(ECTempPeakC + d); hr >= top {
				t.Errorf("HR %.3f at peak%+.1f °C, not below %.3f at the peak", hr, d, top)
			}
		}
	})
}

func TestWBGTFromHumidity(t *testing.T) {
	cases := []struct{ ta, rh, want float64 }{
		{25, 50, 24.32}, {30, 50, 29.26}, {30, 70, 32.58}, {35, 40, 32.59},
	}
	for _, c := range cases {
		if got := WBGTFromHumidity(c.ta, c.rh); math.Abs(got-c.want) > 0.005 {
			t.Errorf("WBGT(%v °C, %v %%) = %.3f, want %.2f", c.ta, c.rh, got, c.want)
		}
	}
}

func BenchmarkECTempStep(b *testing.B) {
	f := NewECTemp(ECTempDefaultCT)
	hr := [...]float64{120, 150, 135, 160}
	i := 0
	for b.Loop() {
		f.Step(hr[i&3])
		i++
	}
}

func TestECTempFromResumes(t *testing.T) {
	a := NewECTemp(ECTempDefaultCT)
	for range 10 {
		a.Step(150)
	}
	ct, v := a.Estimate()
	b := ECTempFrom(ct, v)
	for range 10 {
		if x, y := a.Step(160), b.Step(160); x != y {
			t.Fatalf("resumed filter gives %v, the original %v", y, x)
		}
	}
}
