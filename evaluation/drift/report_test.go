package drift

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

func TestDefaultMethod(t *testing.T) {
	opt := DefaultOptions()
	tests := []struct {
		name string
		f    FeatureProfile
		want Method
		th   float64
	}{
		{"small numeric", FeatureProfile{Kind: Numeric, Count: 1000}, MethodKS, 0.05},
		{"large numeric", FeatureProfile{Kind: Numeric, Count: 1001}, MethodWasserstein, 0.1},
		{"small categorical", FeatureProfile{Kind: Categorical, Count: 10}, MethodChiSquare, 0.05},
		{"large categorical", FeatureProfile{Kind: Categorical, Count: 5000},
			MethodJensenShannon, 0.1},
		{"small discrete numeric", FeatureProfile{Kind: Numeric, Count: 50,
			Levels: []float64{0, 1}}, MethodChiSquare, 0.05},
		{"large discrete numeric", FeatureProfile{Kind: Numeric, Count: 5000,
			Levels: []float64{0, 1}}, MethodJensenShannon, 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, th := opt.testFor(&tt.f)
			if got != tt.want || th != tt.th {
				t.Errorf("method %s at %v, want %s at %v", got, th, tt.want, tt.th)
			}
		})
	}
}

// liveMonitor observes n rows spread over six hours: hr_small shifted by one
// standard deviation, hr_large and flag unchanged, sport all "run".
func liveMonitor(t *testing.T, p *Profile, n int) *Monitor {
	t.Helper()
	m, err := NewMonitor(p, MonitorOptions{Sketch: SketchOptions{Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range n {
		at := t0.Add(time.Duration(i) * 6 * time.Hour / time.Duration(n))
		row := []float64{150 + 10*rng.NormFloat64(), 140 + 10*rng.NormFloat64(), nan(),
			float64(i % 3 % 2), nan()}
		if err := m.Observe(at, row, []string{"", "", "run", "", ""}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestReport(t *testing.T) {
	p := testProfile(t, 500, 3000)
	r := liveMonitor(t, p, 6000).Report(Options{})

	want := []struct {
		name   string
		method Method
		status Status
		drift  bool
	}{
		{"sport", MethodJensenShannon, StatusOK, true}, // PSI 0.93
		{"hr_small", MethodKS, StatusOK, true},         // PSI about 0.5
		{"hr_large", MethodWasserstein, StatusOK, false},
		{"flag", MethodJensenShannon, StatusOK, false},
		{"empty", MethodKS, StatusNotEnoughData, false},
	}
	if len(r.Features) != len(want) {
		t.Fatalf("%d features, want %d", len(r.Features), len(want))
	}
	for i, w := range want {
		f := r.Features[i]
		if f.Name != w.name || f.Test != w.method || f.Status != w.status || f.Drift != w.drift {
			t.Errorf("feature %d: %s %s %s drift=%v (score %v); want %s %s %s drift=%v",
				i, f.Name, f.Test, f.Status, f.Drift, f.Score, w.name, w.method, w.status, w.drift)
		}
	}
	if r.Evaluated != 4 || r.Drifted != 2 || r.DriftedShare != 0.5 || !r.DatasetDrift {
		t.Errorf("dataset: %d of %d drift (%v), drift=%v; want 2 of 4, drift", r.Drifted,
			r.Evaluated, r.DriftedShare, r.DatasetDrift)
	}
	if r.LiveRows != 6000 || len(r.Timeline) != 6 || !r.From.Equal(t0) ||
		!r.To.Equal(t0.Add(6*time.Hour)) {
		t.Errorf("%d rows, %d buckets from %v to %v", r.LiveRows, len(r.Timeline), r.From, r.To)
	}
	// Each hour holds 1000 rows (enough to keep PSI's noise near 0.01); hr_small
	// and sport shift in every one of them, so two of the four features with data
	// reach moderate PSI.
	for _, tp := range r.Timeline {
		if tp.Status != StatusOK || tp.Value != 0.5 || tp.Rows != 1000 {
			t.Errorf("timeline point %+v, want 1000 rows and share 0.5", tp)
		}
	}
	if sport := r.Features[0]; sport.PSILevel != LevelMajor || len(sport.Bins) != 4 {
		t.Errorf("sport: PSI %v (%s), %d bins", sport.PSI, sport.PSILevel, len(sport.Bins))
	}
}

func TestReportOverridesAndTinySamples(t *testing.T) {
	p := testProfile(t, 500, 3000)
	m := liveMonitor(t, p, 600)
	r := m.Report(Options{
		Tests: map[string]Method{"sport": MethodKS, "hr_large": MethodPSI,
			"hr_small": MethodWasserstein},
		// hr_small moved by one reference standard deviation.
		Thresholds: map[string]float64{"hr_small": 2},
	})
	byName := map[string]FeatureResult{}
	for _, f := range r.Features {
		byName[f.Name] = f
	}
	if f := byName["sport"]; f.Status != StatusNotApplicable {
		t.Errorf("KS on a category: status %s", f.Status)
	}
	if f := byName["hr_large"]; f.Test != MethodPSI || f.Threshold != 0.1 || f.Score != f.PSI {
		t.Errorf("PSI override: %+v", f)
	}
	if f := byName["hr_small"]; f.Threshold != 2 || f.Drift || !near(f.Score, 1, 0.2) {
		t.Errorf("threshold override: threshold %v, drift %v (p %v)", f.Threshold, f.Drift, f.Score)
	}

	tiny := liveMonitor(t, p, 20).Report(Options{})
	if tiny.Evaluated != 0 || tiny.DatasetDrift {
		t.Errorf("20 live rows: %d evaluated, dataset drift %v", tiny.Evaluated, tiny.DatasetDrift)
	}
	for _, f := range tiny.Features {
		if f.Status != StatusNotEnoughData || f.Reason == "" {
			t.Errorf("%s: status %s, reason %q", f.Name, f.Status, f.Reason)
		}
	}
}

func TestReportJSON(t *testing.T) {
	r := liveMonitor(t, testProfile(t, 500, 3000), 300).Report(Options{})
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Features) != len(r.Features) || back.Features[0].Name != r.Features[0].Name ||
		back.Drifted != r.Drifted || back.Options.Alpha != 0.05 {
		t.Errorf("JSON round trip lost data: %+v", back)
	}
}
