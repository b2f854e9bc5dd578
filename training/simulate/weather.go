package simulate

import (
	"math"
	"math/rand/v2"

	"github.com/hydrocast/hydrocast/models/physio"
)

// weather is the environment of one minute.
type weather struct {
	ta   float64 // air temperature, °C
	tr   float64 // mean radiant temperature, °C
	rh   float64 // relative humidity, %
	wind float64 // wind speed, m/s
}

// pa returns the water-vapour partial pressure, kPa.
func (w weather) pa() float64 { return physio.VapourPressureHPa(w.ta, w.rh) / 10 }

// Bounds of the sampled weather. Air temperature stays within 15–40 °C, inside the
// validity range of ISO 7933, and vapour pressure under 3.8 kPa (a dew point near
// 28 °C, about the most humid air of tropical summers) although PHS accepts 4.5.
const (
	minTa, maxTa = 15.0, 40.0
	maxPaKPa     = 3.8
)

// weatherPath is a session's weather: a start, a linear drift over the session and
// slow random wandering of the sun's strength and of the wind.
type weatherPath struct {
	start      weather
	taDrift    float64 // change of air temperature from start to end, °C
	paKPa      float64 // water-vapour pressure, held while the air warms or cools
	sun        float64 // radiant excess over air temperature at full sun, °C
	cloud      float64 // current share of the sun that gets through, 0–1
	windMean   float64 // mean wind speed, m/s
	indoor     bool
	durationMn int
}

// newWeatherPath draws the weather of a session that starts at hour (UTC, used as
// local time) and lasts durationMin minutes.
func newWeatherPath(r *rand.Rand, indoor bool, hour float64, durationMin int) *weatherPath {
	p := &weatherPath{indoor: indoor, durationMn: durationMin}
	if indoor {
		ta := uniform(r, 18, 30)
		p.start = weather{ta: ta, tr: ta, rh: uniform(r, 30, 65), wind: 0.2}
		p.paKPa = p.start.pa()
		p.windMean = 0.2
		return p
	}

	ta := uniform(r, minTa, maxTa-2)
	rh := uniform(r, 20, 85)
	if sat := physio.VapourPressureHPa(ta, 100) / 10; rh/100*sat > maxPaKPa {
		rh = 100 * maxPaKPa / sat * uniform(r, 0.85, 1)
	}

	// Sunshine peaks at midday; mornings and evenings get little radiant load.
	daylight := math.Max(0, math.Sin(math.Pi*(hour-6)/14))
	p.sun = uniform(r, 0, 22) * daylight
	p.cloud = r.Float64()
	p.windMean = clamp(logNormal(r, 1.5, 0.6), 0.2, 6)
	p.taDrift = uniform(r, -2, 3)
	p.start = weather{ta: ta, rh: rh, wind: p.windMean}
	p.start.tr = ta + p.sun*p.cloud
	p.paKPa = p.start.pa()
	return p
}

// at returns the weather of the given minute of the session, moving the random parts
// one step on; call it once per minute in order.
func (p *weatherPath) at(r *rand.Rand, minute int) weather {
	if p.indoor {
		return p.start
	}
	w := p.start
	w.ta = clamp(w.ta+p.taDrift*float64(minute)/float64(p.durationMn), minTa, maxTa)

	// Absolute humidity holds, so relative humidity falls as the air warms.
	sat := physio.VapourPressureHPa(w.ta, 100) / 10
	w.rh = clamp(100*math.Min(p.paKPa, maxPaKPa)/sat, 5, 100)

	p.cloud = clamp(p.cloud+0.08*r.NormFloat64(), 0, 1)
	w.tr = w.ta + p.sun*p.cloud
	w.wind = clamp(p.windMean*(1+0.3*r.NormFloat64()), 0, 8)
	return w
}
