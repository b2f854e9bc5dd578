package physio

import (
	"fmt"
	"math"
	"testing"
)

func TestPSI(t *testing.T) {
	cases := []struct {
		name               string
		tre0, hr0, tre, hr float64
		want               float64
	}{
		{"hard work", 37.0, 70, 39.0, 170, 8.545},
		{"moderate work", 37.0, 60, 38.0, 120, 4.5},
		{"below rest clips to 0", 37.0, 60, 36.8, 55, 0},
		{"beyond the ceilings clips to 10", 37.0, 60, 40.5, 200, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := PSI(c.tre0, c.hr0, c.tre, c.hr); math.Abs(got-c.want) > 0.0005 {
				t.Errorf("PSI = %.4f, want %.3f", got, c.want)
			}
		})
	}
}

// The published NWS check values: inputs in °F, results in °C.
func TestHeatIndexC(t *testing.T) {
	cases := []struct{ tF, rh, wantC float64 }{
		{80, 50, 27.1127}, {85, 50, 30.2552}, {90, 50, 34.7761}, {95, 50, 40.6754},
		{90, 85, 47.4834}, {85, 5, 27.0927}, {68, 50, 19.6806},
		{80, 75, fahrenheitToC(83.5751)},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v°F/%v%%", c.tF, c.rh), func(t *testing.T) {
			got := HeatIndexC(fahrenheitToC(c.tF), c.rh)
			if math.Abs(got-c.wantC) > 0.0001 {
				t.Errorf("HeatIndexC = %.4f °C, want %.4f", got, c.wantC)
			}
		})
	}
}

// The humid-air correction has no published check value; check its size against
// the NWS formula, ((RH − 85)/10)·((87 − T)/5) °F, and where it stops applying.
func TestHeatIndexHumidAdjustment(t *testing.T) {
	cases := []struct{ tF, rh, wantF float64 }{
		{84, 90, 0.3},
		{80, 95, 1.4},
		{88, 95, 0}, // above 87 °F
		{84, 85, 0}, // not above 85 %
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v°F/%v%%", c.tF, c.rh), func(t *testing.T) {
			got := HeatIndexC(fahrenheitToC(c.tF), c.rh) - fahrenheitToC(rothfuszF(c.tF, c.rh))
			if want := c.wantF * 5 / 9; math.Abs(got-want) > 1e-9 {
				t.Errorf("adjustment %.6f °C, want %.6f", got, want)
			}
		})
	}
}
