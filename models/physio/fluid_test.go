package physio

import (
	"math"
	"testing"
	"time"
)

func TestBodySurfaceArea(t *testing.T) {
	cases := []struct {
		name               string
		mass, height, want float64
	}{
		{"PHS reference person", 75, 1.80, 1.938},
		{"small athlete", 60, 1.65, 1.655},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := BodySurfaceArea(c.mass, c.height); math.Abs(got-c.want) > 0.0005 {
				t.Errorf("BodySurfaceArea(%v kg, %v m) = %.4f, want %.3f",
					c.mass, c.height, got, c.want)
			}
		})
	}
}

func TestFieldSweatRate(t *testing.T) {
	cases := []struct {
		name                           string
		pre, post, drank, urine, hours float64
		wantRate, wantLossPct          float64
	}{
		{"science sheet example", 70.0, 68.8, 0.75, 0.10, 1.5, 1.233, 1.714},
		{"drank more than sweated", 70.0, 70.3, 1.0, 0, 1, 0.7, -0.429},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rate := SweatRateLPerH(c.pre, c.post, c.drank, c.urine, c.hours)
			if math.Abs(rate-c.wantRate) > 0.0005 {
				t.Errorf("SweatRateLPerH = %.4f L/h, want %.3f", rate, c.wantRate)
			}
			if loss := BodyMassLossPct(c.pre, c.post); math.Abs(loss-c.wantLossPct) > 0.0005 {
				t.Errorf("BodyMassLossPct = %.4f %%, want %.3f", loss, c.wantLossPct)
			}
		})
	}

	for _, hours := range []float64{0, -1, math.NaN()} {
		if got := SweatRateLPerH(70, 69, 0, 0, hours); !math.IsNaN(got) {
			t.Errorf("SweatRateLPerH over %v h = %v, want NaN", hours, got)
		}
	}
}

func TestGonzalezSweat(t *testing.T) {
	adu := BodySurfaceArea(75, 1.80)
	cases := []struct {
		name       string
		f          func(ereq, emax float64) float64
		ereq, emax float64
		want       float64 // g·m⁻²·h⁻¹
	}{
		{"2009", GonzalezSweatGPerM2H, 300, 400, 257.1},
		{"2012 cool", GonzalezCoolSweatGPerM2H, 300, 400, 460.1},
		{"no load, large capacity", GonzalezSweatGPerM2H, 0, 400, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.f(c.ereq, c.emax); math.Abs(got-c.want) > 0.05 {
				t.Errorf("sweat = %.2f g/(m²·h), want %.1f", got, c.want)
			}
		})
	}

	// The sheet's whole-body figure: 257.1 g/(m²·h) over 1.938 m² ≈ 0.50 L/h.
	if lph := GonzalezSweatGPerM2H(300, 400) * adu / 1000; math.Abs(lph-0.50) > 0.005 {
		t.Errorf("whole-body sweat %.3f L/h, want 0.50", lph)
	}
}

func TestFluidToDrinkML(t *testing.T) {
	cases := []struct {
		name string
		s    FluidStatus
		want float64
	}{
		// 70 kg: 2 % is 1400 ml; 15 min at 1.0 L/h sweats 250 ml.
		{"early, far below 2 %", fluid(1.0, 70, 0, 0), 0},
		// By the horizon 1 h on, 2500 ml sweated: 1100 over 2 %, spread over 4 windows.
		{"at 1.5 h, 1100 ml over 2 % by the horizon", fluid(1.0, 70, 0, 90*time.Minute), 275},
		{"having drunk 300 ml", fluid(1.0, 70, 300, 90*time.Minute), 200},
		{"a 15 min horizon plans for one window",
			withHorizon(fluid(1.0, 70, 0, 90*time.Minute), 5*time.Minute), 350},
		{"sweating past the ceiling drinks at it", fluid(2.0, 70, 0, 0), 350},
		{"never more than is sweated", fluid(2.0, 70, 400, 0), 100},
		{"already drank it all", fluid(1.2, 70, 1500, time.Hour), 0},
		{"daily ceiling of 11 L", fluid(3.0, 70, 10900, 4*time.Hour), 100},
		{"no mass", fluid(1.0, 0, 0, 0), math.NaN()},
		{"unknown sweat rate", fluid(math.NaN(), 70, 0, 0), math.NaN()},
		{"negative intake", fluid(1.0, 70, -5, 0), math.NaN()},
		{"negative elapsed time", fluid(1.0, 70, 0, -time.Minute), math.NaN()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FluidToDrinkML(c.s)
			if math.IsNaN(c.want) != math.IsNaN(got) || math.Abs(got-c.want) > 1e-6 {
				t.Errorf("FluidToDrinkML(%+v) = %v ml, want %v", c.s, got, c.want)
			}
		})
	}
}

// Following the advice window after window keeps the deficit within 2 % whenever
// the sweat rate is within the intake ceiling.
func TestFluidToDrinkMLKeepsUnderTwoPercent(t *testing.T) {
	for _, rate := range []float64{0.5, 1.0, 1.4} {
		s := fluid(rate, 60, 0, 0)
		for range 4 * 6 { // six hours
			s.DrunkML += FluidToDrinkML(s)
			s.Elapsed += FluidWindow
			deficit := rate*s.Elapsed.Hours()*1000 - s.DrunkML
			if deficit > 0.02*60*1000+1e-6 || deficit < -1e-6 {
				t.Fatalf("%v L/h at %v: deficit %.0f ml, want 0–1200", rate, s.Elapsed, deficit)
			}
		}
	}
}

func withHorizon(s FluidStatus, h time.Duration) FluidStatus {
	s.Horizon = h
	return s
}

func fluid(rate, mass, drunk float64, elapsed time.Duration) FluidStatus {
	return FluidStatus{SweatRateLPerH: rate, BodyMassKg: mass, DrunkML: drunk, Elapsed: elapsed}
}
