package features

import (
	"math"
	"time"

	"github.com/hydrocast/hydrocast/models/physio"
)

// SessionGap is the silence that ends a session: a reading that comes more than
// SessionGap after the athlete's previous one (in event time) starts a new session,
// which restarts the core-temperature filter at physio.ECTempDefaultCT, the PSI
// baseline, the fluid total and the elapsed time. A training session with a longer
// pause is two sessions; the filter would otherwise carry a stale estimate across it.
const SessionGap = 30 * time.Minute

// baselineMinutes is how many one-minute heart-rate means, the session's first ones,
// make up the PSI baseline heart rate.
const baselineMinutes = 3

const (
	minuteMs = int64(time.Minute / time.Millisecond)
	gapMs    = int64(SessionGap / time.Millisecond)
)

// session is the running state behind the derived features: a fold over an athlete's
// readings in event-time order. A window keeps one for the readings that can no
// longer change and advances a copy over the rest when it builds a vector, so that
// serving and replay go through the same steps in the same order.
type session struct {
	active bool
	start  int64 // first reading of the session, Unix ms
	last   int64 // newest reading folded in, Unix ms

	// Core temperature: heart rate is averaged per clock minute (the open bin) and
	// the filter steps once per closed minute.
	filter    physio.ECTemp
	bin       int64 // start of the open minute, Unix ms
	binHRSum  float64
	binHRN    int32
	binHRTime int64
	steps     int32   // minutes the filter has stepped on heart rate
	hrMinute  float64 // mean heart rate of the last such minute, bpm
	hrTime    int64   // newest heart-rate reading of that minute, Unix ms

	baseSum float64 // sum of the first baselineMinutes minute means, bpm
	baseN   int32

	fluid  float64 // ml drunk this session
	fluidN int32   // readings that reported fluid intake this session

	// The latest weigh-in outlives sessions.
	mass     float64
	massTime int64
	hasMass  bool
}

// fold adds one reading's relevant signals (NaN when absent); readings must come in
// event-time order.
func (s *session) fold(t int64, hr, fluid, mass float64) {
	if s.active && t-s.last > gapMs {
		s.closeUntil(floorMinute(t))
		s.active = false
	}
	if s.active {
		s.closeUntil(floorMinute(t))
	} else {
		s.begin(t)
	}
	s.last = t

	if !math.IsNaN(hr) {
		s.binHRSum += hr
		s.binHRN++
		s.binHRTime = t
	}
	if !math.IsNaN(fluid) {
		s.fluid += fluid
		s.fluidN++
	}
	if !math.IsNaN(mass) {
		s.mass, s.massTime, s.hasMass = mass, t, true
	}
}

// begin starts a new session at the reading at t.
func (s *session) begin(t int64) {
	mass, massTime, hasMass := s.mass, s.massTime, s.hasMass
	*s = session{active: true, start: t, last: t, bin: floorMinute(t)}
	s.filter = physio.NewECTemp(physio.ECTempDefaultCT)
	s.mass, s.massTime, s.hasMass = mass, massTime, hasMass
}

// closeUntil closes every minute bin that starts before m: a Step with the minute's
// mean heart rate, or a Skip for a minute without one. Minutes after the session's
// end are not stepped.
func (s *session) closeUntil(m int64) {
	if !s.active {
		return
	}
	for s.bin < m {
		if s.bin >= s.last+gapMs {
			s.bin = m
			break
		}
		if s.binHRN > 0 {
			s.closeBinWithHR()
		} else {
			s.filter.Skip()
		}
		s.bin += minuteMs
	}
}

func (s *session) closeBinWithHR() {
	mean := s.binHRSum / float64(s.binHRN)
	s.filter.Step(mean)
	s.steps++
	s.hrMinute, s.hrTime = mean, s.binHRTime
	if s.baseN < baselineMinutes {
		s.baseSum += mean
		s.baseN++
	}
	s.binHRSum, s.binHRN = 0, 0
}

// floorMinute rounds a Unix ms time down to its clock minute.
func floorMinute(ms int64) int64 {
	r := ms % minuteMs
	if r < 0 {
		r += minuteMs
	}
	return ms - r
}
