package features

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/models/physio"
)

// sharedData returns the team's folder of real recordings, ../shared/data beside the
// repository root, skipping the test when it is absent.
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

// e4Series reads an Empatica E4 single-column CSV: start time, sample rate, samples.
func e4Series(t *testing.T, path string) (start time.Time, step time.Duration, vals []float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var head []float64
	for sc.Scan() {
		v, err := strconv.ParseFloat(sc.Text(), 64)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(head) < 2 {
			head = append(head, v)
			continue
		}
		vals = append(vals, v)
	}
	if err := sc.Err(); err != nil || len(head) < 2 {
		t.Fatalf("%s: header %v, %v", path, head, err)
	}
	start = time.Unix(int64(head[0]), 0).UTC()
	return start, time.Duration(float64(time.Second) / head[1]), vals
}

func TestE4Recording(t *testing.T) {
	dir := filepath.Join(sharedData(t), "wearables", "e4")
	hrStart, hrStep, hrs := e4Series(t, filepath.Join(dir, "HR.csv"))
	tempStart, tempStep, temps := e4Series(t, filepath.Join(dir, "TEMP.csv"))

	// Heart rate at 1 Hz and skin temperature at 4 Hz are two streams of the device:
	// two sources, so that readings at the same instant do not replace each other.
	var rs []Reading
	for i, v := range hrs {
		rs = append(rs, reading("e4/hr", hrStart.Add(time.Duration(i)*hrStep),
			map[Signal]float64{HeartRate: v}))
	}
	for i, v := range temps {
		rs = append(rs, reading("e4/temp", tempStart.Add(time.Duration(i)*tempStep),
			map[Signal]float64{SkinTemp: v}))
	}
	slices.SortStableFunc(rs, func(a, b Reading) int { return a.Time.Compare(b.Time) })

	// Check a vector twenty minutes in (skin temperature still flowing) and at the end.
	checks := []time.Time{hrStart.Add(20 * time.Minute), rs[len(rs)-1].Time}
	// Five readings a second for 62 minutes exceed the default cap, sized for
	// resampled streams; raw E4 exports need the largest.
	w := NewAthleteWindow("a1", WindowOptions{Lateness: DefaultLateness,
		MaxReadings: maxReadingsLimit})
	v := NewVector()
	next := 0
	for _, r := range rs {
		for next < len(checks) && r.Time.After(checks[next]) {
			w.Vector(checks[next], v)
			checkE4Vector(t, v, hrStart, hrs, tempStart, temps)
			next++
		}
		if res := w.Add(r); res != Applied {
			t.Fatalf("reading at %v: %v", r.Time, res)
		}
	}
	w.Vector(checks[len(checks)-1], v)
	checkE4Vector(t, v, hrStart, hrs, tempStart, temps)
}

// checkE4Vector recomputes by hand what the vector should say about the recording:
// the five-minute skin-temperature mean and core temperature from one-minute means.
func checkE4Vector(t *testing.T, v *Vector, hrStart time.Time, hrs []float64,
	tempStart time.Time, temps []float64) {
	t.Helper()
	asOf := v.AsOf

	var sum, n float64
	for i, x := range temps {
		at := tempStart.Add(time.Duration(i) * 250 * time.Millisecond)
		if at.After(asOf.Add(-5*time.Minute)) && !at.After(asOf) {
			sum += float64(float32(x))
			n++
		}
	}
	mean, st := feature(t, v, "skin_temp_c_mean_5m")
	switch {
	case n == 0 && st != StatusMissing:
		t.Errorf("as of %v: skin mean %v (%v) after the recording ended", asOf, mean, st)
	case n > 0 && (st != StatusPresent || math.Abs(mean-sum/n) > 1e-9):
		t.Errorf("as of %v: skin mean %v (%v), want %v", asOf, mean, st, sum/n)
	}

	// The session starts at the first reading, a temperature sample 10 s before the
	// first heart rate, in the same minute.
	bins := map[int64][2]float64{}
	for i, x := range hrs {
		at := hrStart.Add(time.Duration(i) * time.Second)
		if at.After(asOf) {
			break
		}
		m := at.Truncate(time.Minute).Unix()
		b := bins[m]
		bins[m] = [2]float64{b[0] + float64(float32(x)), b[1] + 1}
	}
	f := physio.NewECTemp(physio.ECTempDefaultCT)
	first := tempStart.Truncate(time.Minute)
	for m := first; !m.Add(time.Minute).After(asOf); m = m.Add(time.Minute) {
		if b, ok := bins[m.Unix()]; ok {
			f.Step(b[0] / b[1])
		} else {
			f.Skip()
		}
	}
	want, _ := f.Estimate()
	got, st := feature(t, v, "core_temp_ectemp_c")
	if st != StatusPresent || math.Abs(got-want) > 1e-9 {
		t.Errorf("as of %v: core temperature %v (%v), want %v", asOf, got, st, want)
	}
	wantFeature(t, v, "heart_rate_bpm_count_5m", 300, StatusPresent)
}
