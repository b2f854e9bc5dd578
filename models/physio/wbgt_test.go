package physio

import (
	"math"
	"testing"
)

func TestWBGTFromInstruments(t *testing.T) {
	cases := []struct {
		name         string
		tnwb, tg, ta float64
		indoor, sun  float64
	}{
		{"hot sunny field", 25, 40, 32, 29.5, 28.7},
		{"shade", 20, 24, 23, 21.2, 21.1},
		// Weights sum to one: equal readings give that temperature back.
		{"isothermal", 30, 30, 30, 30, 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := WBGTIndoor(c.tnwb, c.tg); math.Abs(got-c.indoor) > 1e-9 {
				t.Errorf("WBGTIndoor = %v, want %v", got, c.indoor)
			}
			if got := WBGTInSun(c.tnwb, c.tg, c.ta); math.Abs(got-c.sun) > 1e-9 {
				t.Errorf("WBGTInSun = %v, want %v", got, c.sun)
			}
		})
	}
}
