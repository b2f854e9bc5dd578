package wal

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// t0 is the minute-aligned instant the tests' readings are built around.
var t0 = time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)

// hr returns a watch reading of the athlete, i seconds after t0, with a heart rate.
func hr(athlete string, i int, bpm float64) features.Reading {
	r := features.NewReading(athlete, "watch", t0.Add(time.Duration(i)*time.Second))
	r.Set(features.HeartRate, bpm)
	return r
}

func TestRecordRoundTrip(t *testing.T) {
	full := features.NewReading("athlete-7", "chest-strap", t0.Add(1234567*time.Nanosecond))
	for s := range features.NumSignals {
		lo, hi := s.Range()
		full.Set(s, lo+(hi-lo)/3)
	}
	odd := features.NewReading(strings.Repeat("é", 200), "", t0.In(time.FixedZone("X", 3600)))
	odd.Set(features.Power, math.Inf(1))
	odd.Set(features.AmbientTemp, math.Copysign(0, -1))
	odd.Set(features.BodyMass, 0)

	cases := []struct {
		name string
		r    features.Reading
	}{
		{"heart rate", hr("a1", 3, 142)},
		{"every signal", full},
		{"no signal, zero time", features.NewReading("a1", "watch", time.Time{})},
		{"long id, infinity, negative zero, other zone", odd},
		{"before 1970", hr("a1", -2_000_000_000, 60)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rec Record
			if err := DecodeRecord(AppendReading(nil, &c.r), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Kind != KindReading {
				t.Fatalf("kind %d, want reading", rec.Kind)
			}
			assertSameReading(t, &rec.Reading, &c.r)
		})
	}

	t.Run("delete", func(t *testing.T) {
		var rec Record
		if err := DecodeRecord(AppendDelete(nil, "athlete-9"), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Kind != KindDelete || rec.AthleteID != "athlete-9" {
			t.Errorf("decoded %+v, want delete of athlete-9", rec)
		}
	})
}

// assertSameReading compares readings bit for bit, NaN matching NaN, times by
// instant.
func assertSameReading(t *testing.T, got, want *features.Reading) {
	t.Helper()
	if got.AthleteID != want.AthleteID || got.Source != want.Source ||
		!got.Time.Equal(want.Time) || got.Time.IsZero() != want.Time.IsZero() {
		t.Errorf("identity %q %q %v, want %q %q %v", got.AthleteID, got.Source, got.Time,
			want.AthleteID, want.Source, want.Time)
	}
	for i := range want.Values {
		g, w := got.Values[i], want.Values[i]
		if math.Float64bits(g) != math.Float64bits(w) && !(math.IsNaN(g) && math.IsNaN(w)) {
			t.Errorf("%s = %v, want %v", features.Signal(i).Name(), g, w)
		}
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	r := hr("a1", 0, 120)
	good := AppendReading(nil, &r)
	nan := append(AppendReading(nil, &r)[:len(good)-8], 0, 0, 0, 0, 0, 0, 0xf8, 0x7f)
	cases := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"unknown kind", []byte{9, 0}},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(AppendReading(nil, &r), 0)},
		{"present NaN", nan},
		{"signal beyond the schema", func() []byte {
			b := []byte{byte(KindReading), 0, 0, 0, 0}
			b = append(b, 0x80, 0x80, 0x80, 0x80, 0x01) // mask bit 28
			return append(b, make([]byte, 8)...)
		}()},
		{"string past the end", []byte{byte(KindDelete), 5, 'a'}},
		{"nanoseconds over a second", []byte{byte(KindReading), 0, 0, 0,
			0x80, 0x94, 0xeb, 0xdc, 0x03, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rec Record
			if err := DecodeRecord(c.payload, &rec); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("DecodeRecord: %v, want ErrBadRecord", err)
			}
		})
	}
}
