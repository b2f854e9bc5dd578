package features

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// fuzzSignals are the signals a fuzzed reading may carry, one bit each.
var fuzzSignals = [...]Signal{HeartRate, SkinTemp, AmbientTemp, Humidity, Speed, Power,
	FluidIntake, BodyMass}

// fuzzReading decodes 6 bytes into a reading: source, time within two hours (with
// millisecond jitter), which signals, their value and occasionally a non-finite one.
// Values are not validated: the window must survive what validation would catch.
func fuzzReading(b []byte) Reading {
	sources := [...]string{"watch", "chest", "station", "bottle"}
	offset := time.Duration(binary.LittleEndian.Uint16(b[1:3])%7200)*time.Second +
		time.Duration(b[5]%4)*time.Millisecond
	r := NewReading("a1", sources[b[0]%4], t0.Add(offset))
	for k, s := range fuzzSignals {
		if b[3]&(1<<k) == 0 {
			continue
		}
		lo, hi := s.Range()
		v := lo + float64(b[4])/255*(hi-lo)
		switch b[5] {
		case 255:
			v = math.Inf(1)
		case 254:
			v = -1e9
		}
		r.Set(s, v)
	}
	return r
}

func FuzzAthleteWindow(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0xff, 128, 0, 1, 40, 0, 0x03, 200, 1, 0, 20, 0, 0x01, 10, 0})
	f.Add([]byte{0x80, 0, 1, 0x11, 1, 255, 2, 0, 1, 0x22, 2, 254, 0, 0, 1, 0x11, 1, 255})
	f.Add(make([]byte, 60))
	f.Fuzz(func(t *testing.T, data []byte) {
		w := NewAthleteWindow("a1", WindowOptions{Lateness: time.Minute, MaxReadings: 64})
		v := NewVector()
		var offered uint64
		for ; len(data) >= 6; data = data[6:] {
			r := fuzzReading(data[:6])
			before := w.Len()
			res := w.Add(r)
			offered++
			checkWindow(t, w, offered)
			if res != Applied && w.Len() != before {
				t.Fatalf("%v changed the number of rows from %d to %d", res, before, w.Len())
			}
			if data[0]&0x80 != 0 {
				w.Vector(r.Time.Add(time.Duration(data[4])*time.Second), v)
				checkVector(t, w, v)
			}
		}
		if w.started {
			w.Vector(w.Newest(), v)
			checkVector(t, w, v)
		}
	})
}

// checkWindow asserts the window's invariants: counts add up, rows are sorted, kept
// within the retention, and never more than applied.
func checkWindow(t *testing.T, w *AthleteWindow, offered uint64) {
	t.Helper()
	c := w.Counts()
	if c.Total() != offered {
		t.Fatalf("counts %+v total %d, want %d", c, c.Total(), offered)
	}
	if uint64(w.Len()) > c.Applied || w.Len() > w.maxRows {
		t.Fatalf("%d rows, %d applied, max %d", w.Len(), c.Applied, w.maxRows)
	}
	for i := range w.Len() {
		ti := w.rows.time(i)
		if i > 0 && ti < w.rows.time(i-1) {
			t.Fatalf("row %d out of order", i)
		}
		if ti <= w.newest-w.keep || ti > w.newest {
			t.Fatalf("row %d at %d outside (%d, %d]", i, ti, w.newest-w.keep, w.newest)
		}
		if int(w.rows.src(i)) >= len(w.sources) {
			t.Fatalf("row %d names source %d of %d", i, w.rows.src(i), len(w.sources))
		}
	}
}

// checkVector asserts that every status is valid, missing means NaN, and counts and
// coverages are within bounds.
func checkVector(t *testing.T, w *AthleteWindow, v *Vector) {
	t.Helper()
	for i, st := range v.Status {
		if st > StatusStale {
			t.Fatalf("feature %d has status %d", i, st)
		}
		if st == StatusMissing && !math.IsNaN(v.Values[i]) {
			t.Fatalf("feature %d missing with value %v", i, v.Values[i])
		}
	}
	for b := range numWindowed {
		for span := range numSpans {
			n := v.Values[windowIndex(b, span, statCount)]
			cov := v.Values[windowIndex(b, span, statCoverage)]
			if n < 0 || n > float64(w.Len()) || cov < 0 || cov > 1 {
				t.Fatalf("block %d window %d: count %v coverage %v with %d rows", b, span, n,
					cov, w.Len())
			}
		}
	}
}
