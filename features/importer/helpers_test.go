package importer_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
)

// t0 is the start of every generated session.
var t0 = time.Date(2025, 7, 14, 9, 30, 0, 0, time.UTC)

var testOpt = importer.Options{AthleteID: "athlete-1", Source: "watch-1"}

// sig is one signal value of a test reading.
type sig struct {
	s features.Signal
	v float64
}

// at returns a reading of testOpt's athlete sec seconds after t0.
func at(sec int, values ...sig) features.Reading {
	t := t0.Add(time.Duration(sec) * time.Second)
	r := features.NewReading(testOpt.AthleteID, testOpt.Source, t)
	for _, v := range values {
		r.Set(v.s, v.v)
	}
	return r
}

// session returns n readings a second apart with every signal WriteFIT stores.
func session(n int) []features.Reading {
	out := make([]features.Reading, n)
	for i := range out {
		out[i] = at(i,
			sig{features.HeartRate, float64(100 + i%80)},
			sig{features.SkinTemp, float64(30 + i%5)},
			sig{features.Speed, 2 + float64(i%500)/1000},
			sig{features.Power, float64(150 + i%100)},
			sig{features.Cadence, float64(80 + i%10)},
		)
	}
	return out
}

func encodeFIT(t testing.TB, readings []features.Reading, opt importer.WriteOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := importer.WriteFIT(&buf, readings, opt); err != nil {
		t.Fatalf("WriteFIT: %v", err)
	}
	return buf.Bytes()
}

// sameReadings reports the first difference between got and want: count, time,
// identity, or a signal's presence or value (within tol).
func sameReadings(t *testing.T, got, want []features.Reading, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d readings, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.AthleteID != w.AthleteID || g.Source != w.Source {
			t.Fatalf("reading %d: got %s %s@%s, want %s %s@%s", i, g.AthleteID, g.Source,
				g.Time, w.AthleteID, w.Source, w.Time)
		}
		for s := range features.NumSignals {
			gv, gok := g.Get(s)
			wv, wok := w.Get(s)
			if gok != wok || (wok && math.Abs(gv-wv) > tol) {
				t.Errorf("reading %d %s: got %v (present %t), want %v (present %t)",
					i, s.Name(), gv, gok, wv, wok)
			}
		}
	}
}

// sharedData returns the folder of the shared recordings, ../shared/data beside the
// repository root, and skips the test when it is absent.
func sharedData(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("shared recordings absent: %v", err)
	}
	return data
}
