package features

import (
	"math"
	"time"

	"github.com/hydrocast/hydrocast/models/physio"
)

// Vector fills dst with the athlete's features as of asOf, using only readings at or
// before asOf. It allocates only when dst is not yet sized for the schema.
//
// Window statistics cover (asOf − window, asOf]. The standard deviation is the sample
// one (n − 1 in the denominator; missing below two readings), the slope is the least-
// squares slope against event time in units per minute (missing below two distinct
// times), and coverage is the count over the readings a 30-second cadence would give,
// capped at 1. The session features (core temperature, PSI, fluid, elapsed time,
// metabolic rate, body mass) are missing when asOf is before the commit horizon, the
// newest reading's time minus the lateness rounded down to the minute: the window no
// longer knows that past.
func (w *AthleteWindow) Vector(asOf time.Time, dst *Vector) {
	dst.Reset(w.id, asOf)
	at := asOf.UnixMilli()
	end := w.rows.search(at + 1)

	w.fillWindows(dst, end, at)
	w.fillWeather(dst, at)
	if w.started && at >= w.commitEnd {
		s := w.committed
		for i := w.rows.search(w.commitEnd); i < end; i++ {
			w.foldRow(&s, i, w.rows.time(i))
		}
		s.closeUntil(floorMinute(at))
		fillSession(dst, &s, at)
		fillMetabolic(dst, at)
	}

	freshest := int64(math.MinInt64)
	for i, st := range dst.Status {
		if ms := dst.EventUnixMilli[i]; st != StatusMissing && ms != 0 && ms > freshest {
			freshest = ms
		}
	}
	if freshest != math.MinInt64 {
		dst.FreshestReading = time.UnixMilli(freshest).UTC()
	}
}

// moments accumulates one signal over a window: x is minutes relative to asOf and y
// the value less shift, the window's newest value, to keep the sums well conditioned.
type moments struct {
	n                     float64
	sx, sy, sxx, sxy, syy float64
	lo, hi                float64
	shift                 float64
	fresh                 int64 // event time of the newest value, Unix ms
}

func (m *moments) add(x, v float64, t int64) {
	if m.n == 0 {
		m.shift, m.lo, m.hi, m.fresh = v, v, v, t
	}
	y := v - m.shift
	m.n++
	m.sx += x
	m.sy += y
	m.sxx += x * x
	m.sxy += x * y
	m.syy += y * y
	if v < m.lo {
		m.lo = v
	}
	if v > m.hi {
		m.hi = v
	}
}

// fillWindows computes the window statistics and last values of every windowed
// signal from the rows before end, walking back from the newest. The windows are
// nested, so one pass serves all three: each is written out when the walk leaves it.
func (w *AthleteWindow) fillWindows(dst *Vector, end int, at int64) {
	var ms [numWindowed]moments
	var runs [len(unchangedSignals)]unchangedRun
	c := w.rows.capacity()
	span := 0
	i := end - 1
	for ; i >= 0; i-- {
		t := w.rows.time(i)
		for span < numSpans && t <= at-windowSpans[span].Milliseconds() {
			for b := range ms {
				writeWindow(dst, windowIndex(b, span, 0), &ms[b], span, at)
			}
			span++
		}
		if span == numSpans {
			break
		}
		x := float64(t-at) / float64(minuteMs)
		p := w.rows.phys(i)
		for b, s := range windowSignals {
			if v := w.rows.vals[int(s)*c+p]; !isNaN32(v) {
				ms[b].add(x, float64(v), t)
			}
		}
		for k, s := range unchangedSignals {
			if v := w.rows.vals[int(s)*c+p]; !isNaN32(v) {
				runs[k].add(v, t)
			}
		}
	}
	for k, u := range runs {
		if u.seen {
			dst.set(unchangedIndex[k], float64(u.newest-u.oldest)/float64(minuteMs),
				u.newest, at)
		}
	}
	for ; span < numSpans; span++ {
		for b := range ms {
			writeWindow(dst, windowIndex(b, span, 0), &ms[b], span, at)
		}
	}

	for b, s := range windowSignals {
		last := b*blockLen + lastOffset
		if ms[b].n > 0 {
			dst.set(last, ms[b].shift, ms[b].fresh, at)
			continue
		}
		// Rare: nothing in the last hour, but the kept lateness may hold a value.
		for k := i; k >= 0; k-- {
			if v := w.rows.value(s, k); !isNaN32(v) {
				dst.set(last, float64(v), w.rows.time(k), at)
				break
			}
		}
	}
}

// The body-worn signals whose unchanged-run length is a feature, and its index.
var (
	unchangedSignals = [...]Signal{HeartRate, SkinTemp}
	unchangedIndex   = [...]int{idxHeartRateUnchanged, idxSkinTempUnchanged}
)

// unchangedRun follows, walking back from the newest reading, the run of readings
// that repeat the newest value exactly: its span is how long the sensor has reported
// the same number, which a stuck sensor does and a working one rarely does for long.
type unchangedRun struct {
	value          float32
	newest, oldest int64 // event times of the run's ends, Unix ms
	seen, broken   bool
}

func (u *unchangedRun) add(v float32, t int64) {
	switch {
	case u.broken:
	case !u.seen:
		u.value, u.newest, u.oldest, u.seen = v, t, t, true
	case v == u.value:
		u.oldest = t
	default:
		u.broken = true
	}
}

// writeWindow writes the statistics of window span, starting at feature base.
func writeWindow(dst *Vector, base int, m *moments, span int, at int64) {
	expected := float64(windowSpans[span] / expectedInterval)
	dst.set(base+statCount, m.n, m.fresh, at)
	dst.set(base+statCoverage, math.Min(m.n/expected, 1), m.fresh, at)
	if m.n == 0 {
		return
	}
	dst.set(base+statMean, m.shift+m.sy/m.n, m.fresh, at)
	dst.set(base+statMin, m.lo, m.fresh, at)
	dst.set(base+statMax, m.hi, m.fresh, at)
	if m.n < 2 {
		return
	}
	variance := (m.syy - m.sy*m.sy/m.n) / (m.n - 1)
	dst.set(base+statStd, math.Sqrt(math.Max(variance, 0)), m.fresh, at)
	if den := m.n*m.sxx - m.sx*m.sx; den > 1e-9*m.n*m.sxx {
		dst.set(base+statSlope, (m.n*m.sxy-m.sx*m.sy)/den, m.fresh, at)
	}
}

// fillWeather derives WBGT and heat index from the last air temperature and humidity.
func (w *AthleteWindow) fillWeather(dst *Vector, at int64) {
	ta, hu := blockAmbient*blockLen+lastOffset, blockHumidity*blockLen+lastOffset
	if dst.Status[ta] == StatusMissing || dst.Status[hu] == StatusMissing {
		return
	}
	t, rh := dst.Values[ta], dst.Values[hu]
	event := min(dst.EventUnixMilli[ta], dst.EventUnixMilli[hu])
	dst.set(idxWBGT, physio.WBGTFromHumidity(t, rh), event, at)
	dst.set(idxHeatIndex, physio.HeatIndexC(t, rh), event, at)
}

// fillSession writes the features of the session state s, advanced to at.
func fillSession(dst *Vector, s *session, at int64) {
	if s.hasMass {
		dst.set(idxBodyMass, s.mass, s.massTime, at)
	}
	if !s.active {
		return
	}
	dst.set(idxElapsed, float64(at-s.start)/float64(minuteMs), s.last, at)
	if s.fluidN > 0 {
		dst.set(idxFluidCum, s.fluid, s.last, at)
	}
	if s.steps == 0 {
		return
	}
	ct, _ := s.filter.Estimate()
	dst.set(idxCoreTemp, ct, s.hrTime, at)
	if hr0 := s.baseSum / baselineMinutes; s.baseN == baselineMinutes && hr0 < 180 {
		psi := physio.PSI(physio.ECTempDefaultCT, hr0, ct, s.hrMinute)
		dst.set(idxPSI, psi, s.hrTime, at)
	}
}

// fillMetabolic estimates the metabolic rate from the five-minute speed, power and
// heart-rate statistics and the body mass already in dst (see metabolic.go).
func fillMetabolic(dst *Vector, at int64) {
	mass := defaultMassKg
	if dst.Status[idxBodyMass] != StatusMissing {
		mass = dst.Values[idxBodyMass]
	}

	speed := windowIndex(blockSpeed, 0, statMean)
	power := windowIndex(blockPower, 0, statCount)
	hr := windowIndex(blockHeartRate, 0, statMean)
	switch {
	case dst.Status[speed] != StatusMissing && isRunning(dst.Values[speed], dst.Values[power]):
		vo2 := runningVO2(dst.Values[speed])
		dst.set(idxMetabolic, metabolicWPerM2(vo2, mass), dst.EventUnixMilli[speed], at)
	case dst.Status[hr] != StatusMissing:
		vo2 := heartRateVO2(dst.Values[hr])
		dst.set(idxMetabolic, metabolicWPerM2(vo2, mass), dst.EventUnixMilli[hr], at)
	}
}
