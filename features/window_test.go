package features

import (
	"math"
	"testing"
	"time"
)

// t0 is a minute-aligned instant that the tests build their series around.
var t0 = time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)

// reading returns a reading of athlete "a1" from source at time at, carrying the
// given signals.
func reading(source string, at time.Time, signals map[Signal]float64) Reading {
	r := NewReading("a1", source, at)
	for s, v := range signals {
		r.Set(s, v)
	}
	return r
}

// hrReading returns a watch reading with heart rate only.
func hrReading(at time.Time, bpm float64) Reading {
	return reading("watch", at, map[Signal]float64{HeartRate: bpm})
}

func newTestWindow() *AthleteWindow { return NewAthleteWindow("a1", DefaultWindowOptions()) }

// feature returns the named feature of v, failing the test for an unknown name.
func feature(t *testing.T, v *Vector, name string) (float64, Status) {
	t.Helper()
	val, st, ok := v.Get(name)
	if !ok {
		t.Fatalf("feature %q not in the schema", name)
	}
	return val, st
}

// wantFeature checks a feature's status and, unless it is missing, its value.
func wantFeature(t *testing.T, v *Vector, name string, want float64, status Status) {
	t.Helper()
	got, st := feature(t, v, name)
	if st != status {
		t.Errorf("%s: status %v, want %v (value %v)", name, st, status, got)
		return
	}
	if status == StatusMissing {
		if !math.IsNaN(got) {
			t.Errorf("%s: missing with value %v, want NaN", name, got)
		}
		return
	}
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.10g, want %.10g", name, got, want)
	}
}

func TestWindowStatsByHand(t *testing.T) {
	asOf := t0.Add(20 * time.Minute)
	w := newTestWindow()
	// 90 bpm ten minutes back (15 and 60 minute windows only), 95 exactly five minutes
	// back (outside the half-open 5-minute window), a ramp of 10 bpm per 30 s in the
	// last 90 s, and a reading after asOf that no window may use.
	series := []struct {
		back time.Duration
		bpm  float64
	}{
		{10 * time.Minute, 90}, {5 * time.Minute, 95}, {90 * time.Second, 100},
		{60 * time.Second, 110}, {30 * time.Second, 120}, {0, 130}, {-20 * time.Second, 200},
	}
	for _, s := range series {
		if res := w.Add(hrReading(asOf.Add(-s.back), s.bpm)); res != Applied {
			t.Fatalf("add %v bpm: %v", s.bpm, res)
		}
	}
	v := NewVector()
	w.Vector(asOf, v)

	// 5 minutes: 100, 110, 120, 130 at −1.5, −1, −0.5, 0 min.
	// mean 115; deviations ±15, ±5, so sample variance (225+25+25+225)/3.
	// slope: 10 bpm per 30 s = 20 bpm/min.
	// 15 minutes adds 90 at −10 min and 95 at −5 min: six values, mean 645/6 = 107.5.
	// Deviations −17.5, −12.5, −7.5, 2.5, 12.5, 22.5: squares sum to 1187.5.
	// x mean = −18/6 = −3; x deviations −7, −2, 1.5, 2, 2.5, 3: Sxx = 49+4+2.25+4+6.25+9
	// = 74.5; Sxy = 122.5+25−11.25+5+31.25+67.5 = 240.
	cases := []struct {
		name   string
		want   float64
		status Status
	}{
		{"heart_rate_bpm_mean_5m", 115, StatusPresent},
		{"heart_rate_bpm_min_5m", 100, StatusPresent},
		{"heart_rate_bpm_max_5m", 130, StatusPresent},
		{"heart_rate_bpm_std_5m", math.Sqrt(500.0 / 3), StatusPresent},
		{"heart_rate_bpm_slope_5m", 20, StatusPresent},
		{"heart_rate_bpm_count_5m", 4, StatusPresent},
		{"heart_rate_bpm_coverage_5m", 4.0 / 10, StatusPresent},
		{"heart_rate_bpm_mean_15m", 107.5, StatusPresent},
		{"heart_rate_bpm_min_15m", 90, StatusPresent},
		{"heart_rate_bpm_std_15m", math.Sqrt(1187.5 / 5), StatusPresent},
		{"heart_rate_bpm_slope_15m", 240 / 74.5, StatusPresent},
		{"heart_rate_bpm_count_15m", 6, StatusPresent},
		{"heart_rate_bpm_coverage_15m", 6.0 / 30, StatusPresent},
		{"heart_rate_bpm_count_60m", 6, StatusPresent},
		{"heart_rate_bpm_coverage_60m", 6.0 / 120, StatusPresent},
		{"heart_rate_bpm_last", 130, StatusPresent},
		{"skin_temp_c_mean_5m", 0, StatusMissing},
		{"skin_temp_c_count_5m", 0, StatusPresent},
		{"skin_temp_c_last", 0, StatusMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantFeature(t, v, c.name, c.want, c.status) })
	}
	if !v.FreshestReading.Equal(asOf) {
		t.Errorf("freshest reading %v, want %v", v.FreshestReading, asOf)
	}
}

func TestWindowStatsTooFewReadings(t *testing.T) {
	cases := []struct {
		name  string
		times []time.Duration // before asOf
		std   Status
		slope Status
	}{
		{"one reading", []time.Duration{time.Minute}, StatusMissing, StatusMissing},
		{"two readings at one instant", nil, StatusPresent, StatusMissing},
		{"two readings", []time.Duration{time.Minute, 0}, StatusPresent, StatusPresent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			asOf := t0.Add(time.Hour)
			w := newTestWindow()
			for i, back := range c.times {
				w.Add(hrReading(asOf.Add(-back), 100+float64(i)))
			}
			if c.times == nil { // two sources at the same instant
				w.Add(hrReading(asOf, 100))
				w.Add(reading("chest", asOf, map[Signal]float64{HeartRate: 104}))
			}
			v := NewVector()
			w.Vector(asOf, v)
			if _, st := feature(t, v, "heart_rate_bpm_std_5m"); st != c.std {
				t.Errorf("std status %v, want %v", st, c.std)
			}
			if _, st := feature(t, v, "heart_rate_bpm_slope_5m"); st != c.slope {
				t.Errorf("slope status %v, want %v", st, c.slope)
			}
		})
	}
}

func TestWindowCoverageCapped(t *testing.T) {
	// Readings every second: 300 in five minutes, ten times the expected 30-second
	// cadence; coverage says complete, no more.
	asOf := t0.Add(10 * time.Minute)
	w := newTestWindow()
	for s := 299; s >= 0; s-- {
		w.Add(hrReading(asOf.Add(-time.Duration(s)*time.Second), 100))
	}
	v := NewVector()
	w.Vector(asOf, v)
	wantFeature(t, v, "heart_rate_bpm_count_5m", 300, StatusPresent)
	wantFeature(t, v, "heart_rate_bpm_coverage_5m", 1, StatusPresent)
}

func TestWindowLateness(t *testing.T) {
	newest := t0.Add(30 * time.Minute)
	cases := []struct {
		name string
		back time.Duration // behind the newest reading
		want AddResult
	}{
		{"out of order within lateness", time.Minute, Applied},
		{"exactly the lateness", DefaultLateness, Applied},
		{"a millisecond too late", DefaultLateness + time.Millisecond, Late},
		{"long after", time.Hour, Late},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newTestWindow()
			w.Add(hrReading(newest.Add(-4*time.Minute), 100))
			w.Add(hrReading(newest, 120))
			if got := w.Add(hrReading(newest.Add(-c.back), 60)); got != c.want {
				t.Fatalf("Add: %v, want %v", got, c.want)
			}

			v := NewVector()
			w.Vector(newest, v)
			wantCount, wantMin := 2.0, 100.0
			if c.want == Applied {
				wantCount, wantMin = 3, 60
			}
			wantFeature(t, v, "heart_rate_bpm_count_5m", wantCount, StatusPresent)
			wantFeature(t, v, "heart_rate_bpm_min_5m", wantMin, StatusPresent)
			// The late-arriving reading is older, so it never becomes the last value.
			wantFeature(t, v, "heart_rate_bpm_last", 120, StatusPresent)
			if c.want == Late && w.Counts().Late != 1 {
				t.Errorf("late count %d, want 1", w.Counts().Late)
			}
		})
	}
}

func TestWindowOutOfOrderLandsInPlace(t *testing.T) {
	// Shuffled arrival within the lateness gives the same vector as ordered arrival.
	offsets := []int{0, 2, 1, 4, 3, 6, 5, 7}
	ordered, shuffled := newTestWindow(), newTestWindow()
	for i := range offsets {
		ordered.Add(hrReading(t0.Add(time.Duration(i)*30*time.Second), float64(100+10*i)))
	}
	for _, i := range offsets {
		if res := shuffled.Add(hrReading(t0.Add(time.Duration(i)*30*time.Second),
			float64(100+10*i))); res != Applied {
			t.Fatalf("add reading %d: %v", i, res)
		}
	}
	asOf := t0.Add(4 * time.Minute)
	want, got := NewVector(), NewVector()
	ordered.Vector(asOf, want)
	shuffled.Vector(asOf, got)
	assertSameVector(t, got, want)
	wantFeature(t, got, "heart_rate_bpm_slope_5m", 20, StatusPresent)
}

func TestWindowDuplicates(t *testing.T) {
	at := t0.Add(10 * time.Minute)
	cases := []struct {
		name      string
		second    Reading
		want      AddResult
		wantCount float64
		wantLast  float64
	}{
		{"exact duplicate", hrReading(at, 100), Duplicate, 1, 100},
		{"conflicting duplicate", hrReading(at, 140), Replaced, 1, 140},
		{"another source at the same time",
			reading("chest", at, map[Signal]float64{HeartRate: 140}), Applied, 2, 140},
		{"same source and time, one more signal",
			reading("watch", at, map[Signal]float64{HeartRate: 100, SkinTemp: 33}),
			Replaced, 1, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newTestWindow()
			w.Add(hrReading(at, 100))
			if got := w.Add(c.second); got != c.want {
				t.Fatalf("second Add: %v, want %v", got, c.want)
			}
			if again := w.Add(c.second); again != Duplicate {
				t.Errorf("third Add of the same reading: %v, want duplicate", again)
			}
			v := NewVector()
			w.Vector(at, v)
			wantFeature(t, v, "heart_rate_bpm_count_5m", c.wantCount, StatusPresent)
			if c.want != Applied {
				wantFeature(t, v, "heart_rate_bpm_last", c.wantLast, StatusPresent)
			}
		})
	}
}

func TestWindowDuplicateOfOldReading(t *testing.T) {
	// A redelivered reading older than the lateness is a duplicate, not late; a
	// changed one that old is late and does not replace the held value.
	w := newTestWindow()
	w.Add(hrReading(t0, 100))
	w.Add(hrReading(t0.Add(10*time.Minute), 110))
	if got := w.Add(hrReading(t0, 100)); got != Duplicate {
		t.Errorf("redelivery: %v, want duplicate", got)
	}
	if got := w.Add(hrReading(t0, 150)); got != Late {
		t.Errorf("late change: %v, want late", got)
	}
	v := NewVector()
	w.Vector(t0.Add(10*time.Minute), v)
	wantFeature(t, v, "heart_rate_bpm_max_15m", 110, StatusPresent)
}

func TestWindowStaleness(t *testing.T) {
	w := newTestWindow()
	w.Add(hrReading(t0, 100))
	cases := []struct {
		after  time.Duration
		last   Status
		mean5  Status
		mean15 Status
	}{
		{time.Minute, StatusPresent, StatusPresent, StatusPresent},
		{ttlBodyLast, StatusPresent, StatusPresent, StatusPresent},
		{3 * time.Minute, StatusStale, StatusStale, StatusPresent},
		{6 * time.Minute, StatusStale, StatusMissing, StatusPresent},
		{8 * time.Minute, StatusStale, StatusMissing, StatusStale},
	}
	for _, c := range cases {
		t.Run(c.after.String(), func(t *testing.T) {
			v := NewVector()
			w.Vector(t0.Add(c.after), v)
			for name, want := range map[string]Status{
				"heart_rate_bpm_last": c.last, "heart_rate_bpm_mean_5m": c.mean5,
				"heart_rate_bpm_mean_15m": c.mean15, "heart_rate_bpm_count_5m": StatusPresent,
			} {
				if _, st := feature(t, v, name); st != want {
					t.Errorf("%s: %v, want %v", name, st, want)
				}
			}
		})
	}
}

func TestWindowKeepsOnlyTheLastHour(t *testing.T) {
	w := newTestWindow()
	for i := range 240 { // two hours every 30 s
		w.Add(hrReading(t0.Add(time.Duration(i)*30*time.Second), 100))
	}
	keep := int((windowSpan + DefaultLateness) / (30 * time.Second))
	if w.Len() != keep {
		t.Errorf("holds %d readings, want %d", w.Len(), keep)
	}
	if c := w.rows.capacity(); c > minRingCap {
		t.Errorf("ring capacity %d, want at most %d", c, minRingCap)
	}
}

func TestWindowRebase(t *testing.T) {
	// Sessions 40 days apart overflow the int32 time offsets unless the base moves.
	w := newTestWindow()
	later := t0.Add(40 * 24 * time.Hour)
	w.Add(hrReading(t0, 100))
	w.Add(hrReading(later, 150))
	w.Add(hrReading(later.Add(30*time.Second), 160))

	v := NewVector()
	w.Vector(later.Add(30*time.Second), v)
	wantFeature(t, v, "heart_rate_bpm_count_60m", 2, StatusPresent)
	wantFeature(t, v, "heart_rate_bpm_mean_5m", 155, StatusPresent)
	wantFeature(t, v, "elapsed_min", 0.5, StatusPresent)
}

func TestWindowPointInTime(t *testing.T) {
	// A vector as of a past instant (within the lateness) equals the vector of a
	// window that never saw the later readings: nothing from the future leaks in.
	full, upTo := newTestWindow(), newTestWindow()
	asOf := t0.Add(20*time.Minute + 10*time.Second)
	for i := range 45 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		r := reading("watch", at, map[Signal]float64{
			HeartRate: float64(100 + i), FluidIntake: 10, Speed: 3})
		full.Add(r)
		if !at.After(asOf) {
			upTo.Add(r)
		}
	}
	if asOf.UnixMilli() < full.commitEnd {
		t.Fatal("asOf is before the commit horizon; the test needs it after")
	}
	got, want := NewVector(), NewVector()
	full.Vector(asOf, got)
	upTo.Vector(asOf, want)
	assertSameVector(t, got, want)
}

func TestWindowBeforeCommitHorizon(t *testing.T) {
	w := newTestWindow()
	for i := range 40 {
		w.Add(hrReading(t0.Add(time.Duration(i)*30*time.Second), 100))
	}
	v := NewVector()
	w.Vector(t0.Add(5*time.Minute), v)
	wantFeature(t, v, "heart_rate_bpm_mean_5m", 100, StatusPresent)
	wantFeature(t, v, "elapsed_min", 0, StatusMissing)
	wantFeature(t, v, "core_temp_ectemp_c", 0, StatusMissing)
}

func TestVectorDoesNotAllocate(t *testing.T) {
	w := newTestWindow()
	for i := range 124 {
		w.Add(fullReading(t0.Add(time.Duration(i)*30*time.Second), i))
	}
	v := NewVector()
	asOf := t0.Add(62 * time.Minute)
	if n := testing.AllocsPerRun(100, func() { w.Vector(asOf, v) }); n != 0 {
		t.Errorf("Vector allocates %v times per call", n)
	}
}

func TestMemoryPerAthlete(t *testing.T) {
	// 60 minutes plus the lateness of 30-second readings carrying every signal.
	fill := func() *AthleteWindow {
		w := newTestWindow()
		for i := range 300 {
			w.Add(fullReading(t0.Add(time.Duration(i)*30*time.Second), i))
		}
		return w
	}
	if got := fill().MemoryBytes(); got > 8<<10 {
		t.Errorf("MemoryBytes = %d, want at most 8 KiB", got)
	}
	if got := measureHeapPerWindow(200, fill); got > 8<<10 {
		t.Errorf("heap per athlete %d bytes, want at most 8 KiB", got)
	}
}

// fullReading returns a watch reading with every windowed signal, varying with i.
func fullReading(at time.Time, i int) Reading {
	return reading("watch", at, map[Signal]float64{
		HeartRate: float64(120 + i%40), SkinTemp: 33.5, AmbientTemp: 28, Humidity: 55,
		Speed: 3 + float64(i%5)/10, Power: 250, Cadence: 170,
	})
}

// assertSameVector fails unless the two vectors agree bit for bit, NaN matching NaN.
func assertSameVector(t *testing.T, got, want *Vector) {
	t.Helper()
	names := CurrentSchema().Names()
	for i := range want.Values {
		g, w := got.Values[i], want.Values[i]
		same := g == w || (math.IsNaN(g) && math.IsNaN(w))
		if !same || got.Status[i] != want.Status[i] {
			t.Errorf("%s: %v (%v), want %v (%v)", names[i], g, got.Status[i], w, want.Status[i])
		}
	}
}

func TestWindowUnchangedRun(t *testing.T) {
	asOf := t0.Add(30 * time.Minute)
	w := newTestWindow()
	// Heart rate varies, then repeats 141 bpm for the last two minutes (five readings,
	// one of them a skin-only reading without heart rate, which must not break the run).
	bpms := []float64{150, 147, 141, 141, 141, 141, 141}
	for i, bpm := range bpms {
		at := asOf.Add(time.Duration(i-len(bpms)+1) * 30 * time.Second)
		if res := w.Add(hrReading(at, bpm)); res != Applied {
			t.Fatalf("add %v bpm: %v", bpm, res)
		}
	}
	skin := reading("patch", asOf.Add(-45*time.Second), map[Signal]float64{SkinTemp: 33.5})
	if res := w.Add(skin); res != Applied {
		t.Fatalf("add skin: %v", res)
	}
	v := NewVector()
	w.Vector(asOf, v)
	wantFeature(t, v, "heart_rate_bpm_unchanged_min", 2, StatusPresent)
	// One skin reading: a run of one reading spans no time.
	wantFeature(t, v, "skin_temp_c_unchanged_min", 0, StatusPresent)

	// A new value ends the run.
	if res := w.Add(hrReading(asOf.Add(30*time.Second), 142)); res != Applied {
		t.Fatalf("add: %v", res)
	}
	w.Vector(asOf.Add(30*time.Second), v)
	wantFeature(t, v, "heart_rate_bpm_unchanged_min", 0, StatusPresent)

	// Nothing for longer than the TTL: stale.
	w.Vector(asOf.Add(10*time.Minute), v)
	_, st := feature(t, v, "heart_rate_bpm_unchanged_min")
	if st != StatusStale {
		t.Errorf("after 10 quiet minutes status %v, want stale", st)
	}
}
