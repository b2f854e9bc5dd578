package importer_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
)

// TestAcceptanceWearables imports every recording of the shared wearables folder and
// checks what its README promises about it.
func TestAcceptanceWearables(t *testing.T) {
	root := filepath.Join(sharedData(t), "wearables")
	checks := map[string]func(*testing.T, importer.Result){
		"fit/fenix2-run.fit":          checkFenix2,
		"fit/edge500-ride-badcrc.fit": checkEdge500,
		"fit/truncated.fit":           checkTruncated,
		"e4":                          checkE4,
		"tcx/run-hr.tcx":              checkTCX,
	}

	// Every recording present must have a check, so that a new one is not ignored.
	var paths []string
	for _, sub := range []string{"fit", "tcx"} {
		entries, err := os.ReadDir(filepath.Join(root, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			paths = append(paths, sub+"/"+e.Name())
		}
	}
	paths = append(paths, "e4")

	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			check, ok := checks[p]
			if !ok {
				t.Fatalf("no check for %s", p)
			}
			res, err := importer.ImportFile(filepath.Join(root, p),
				importer.Options{AthleteID: "athlete-replay"})
			if err != nil {
				t.Fatalf("ImportFile: %v", err)
			}
			if !slices.IsSortedFunc(res.Readings, func(a, b features.Reading) int {
				return a.Time.Compare(b.Time)
			}) {
				t.Error("readings not sorted by time")
			}
			t.Logf("%d readings, %d skipped, warnings %q",
				len(res.Readings), res.Skipped, res.Warnings)
			check(t, res)
		})
	}
}

// signalRange returns the lowest and highest value of s and how many readings carry it.
func signalRange(readings []features.Reading, s features.Signal) (lo, hi float64, n int) {
	for _, r := range readings {
		v, ok := r.Get(s)
		if !ok {
			continue
		}
		if n == 0 || v < lo {
			lo = v
		}
		if n == 0 || v > hi {
			hi = v
		}
		n++
	}
	return lo, hi, n
}

// wantRange fails when a present value of s lies outside lo to hi, or none is present.
func wantRange(t *testing.T, readings []features.Reading, s features.Signal, lo, hi float64) {
	t.Helper()
	gotLo, gotHi, n := signalRange(readings, s)
	if n == 0 || gotLo < lo || gotHi > hi {
		t.Errorf("%s: %d values from %g to %g, want some, within %g to %g",
			s.Name(), n, gotLo, gotHi, lo, hi)
	}
}

func hasWarning(res importer.Result, part string) bool {
	return slices.ContainsFunc(res.Warnings, func(w string) bool {
		return strings.Contains(w, part)
	})
}

func checkFenix2(t *testing.T, res importer.Result) {
	if len(res.Readings) != 2809 || res.Skipped != 0 || len(res.Warnings) != 0 {
		t.Fatalf("%d readings, %d skipped, warnings %q; want 2809, 0, none",
			len(res.Readings), res.Skipped, res.Warnings)
	}
	_, _, withHR := signalRange(res.Readings, features.HeartRate)
	if withHR != 2808 {
		t.Errorf("%d readings with heart rate, want 2808 (one record lacks it)", withHR)
	}
	wantRange(t, res.Readings, features.HeartRate, 40, 220)
	wantRange(t, res.Readings, features.SkinTemp, 0, 45)
	wantRange(t, res.Readings, features.Speed, 0, 10)
	// A run: cadence in steps per minute, not the strides FIT stores.
	wantRange(t, res.Readings, features.Cadence, 0, 250)
	if _, hi, _ := signalRange(res.Readings, features.Cadence); hi < 130 {
		t.Errorf("highest cadence %g looks like strides, want steps per minute", hi)
	}
	span := res.Readings[len(res.Readings)-1].Time.Sub(res.Readings[0].Time)
	if span < 45*time.Minute || span > 50*time.Minute {
		t.Errorf("run lasts %s, want about 47 min", span)
	}
}

func checkEdge500(t *testing.T, res importer.Result) {
	if len(res.Readings) < 1000 || !hasWarning(res, "checksum") {
		t.Fatalf("%d readings, warnings %q; want the records and a checksum warning",
			len(res.Readings), res.Warnings)
	}
	wantRange(t, res.Readings, features.HeartRate, 40, 220)
	wantRange(t, res.Readings, features.Speed, 0, 30)

	// A bike computer's temperature is the air's: it must land in AmbientTemp, where
	// every reading then passes validation.
	for i := range res.Readings {
		r := &res.Readings[i]
		if r.Has(features.SkinTemp) {
			t.Fatalf("reading %d of a ride carries skin temperature %v", i, r.Values[features.SkinTemp])
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("reading %d: %v", i, err)
		}
	}
}

func checkTruncated(t *testing.T, res importer.Result) {
	if len(res.Readings) == 0 || !hasWarning(res, "cut short") {
		t.Fatalf("%d readings, warnings %q; want the records before the cut and a warning",
			len(res.Readings), res.Warnings)
	}
}

func checkE4(t *testing.T, res importer.Result) {
	wantRange(t, res.Readings, features.HeartRate, 30, 220)
	wantRange(t, res.Readings, features.SkinTemp, 20, 40)

	firstOf := func(s features.Signal) time.Time {
		i := slices.IndexFunc(res.Readings, func(r features.Reading) bool { return r.Has(s) })
		if i < 0 {
			t.Fatalf("no reading carries %s", s.Name())
		}
		return res.Readings[i].Time
	}
	if d := firstOf(features.HeartRate).Sub(firstOf(features.SkinTemp)); d != 10*time.Second {
		t.Errorf("heart rate starts %s after skin temperature, want 10s", d)
	}
	for i := 1; i < len(res.Readings); i++ {
		if d := res.Readings[i].Time.Sub(res.Readings[i-1].Time); d != time.Second {
			t.Fatalf("readings %d and %d are %s apart, want one per second", i-1, i, d)
		}
	}
}

func checkTCX(t *testing.T, res importer.Result) {
	_, _, withHR := signalRange(res.Readings, features.HeartRate)
	if len(res.Readings)+res.Skipped != 384 || withHR != 383 {
		t.Errorf("%d readings + %d skipped, %d with heart rate; want 384 trackpoints, 383 with",
			len(res.Readings), res.Skipped, withHR)
	}
	wantRange(t, res.Readings, features.HeartRate, 40, 220)
}
