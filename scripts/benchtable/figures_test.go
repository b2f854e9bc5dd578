package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func ptr(v float64) *float64 { return &v }

// fakeResults returns results holding the given samples for Go benchmark sources of
// package p and the given load-test rounds.
func fakeResults(goSamples map[string][]float64, rounds map[string][]float64,
	failed map[string]int64) *Results {
	res := NewResults()
	for bench, vs := range goSamples {
		src := Source{Go: "p", Bench: bench, Metric: "x/s"}
		for _, v := range vs {
			res.samples[src.key()] = append(res.samples[src.key()], sample{-1, v})
		}
	}
	for load, vs := range rounds {
		src := Source{Load: load, Metric: "p99"}
		for i, v := range vs {
			res.samples[src.key()] = append(res.samples[src.key()], sample{i + 1, v})
		}
	}
	for load, n := range failed {
		res.failed[load] = n
	}
	return res
}

func TestEvaluate(t *testing.T) {
	goSrc := func(bench string) *Source {
		return &Source{Go: "p", Bench: bench, Metric: "x/s", Label: bench}
	}
	loadSrc := func(name string) *Source {
		return &Source{Load: name, Metric: "p99", Label: name}
	}
	res := fakeResults(
		map[string][]float64{"fast": {900, 1100, 1000}, "copy": {40000, 50000},
			"even": {1, 2, 3, 4}},
		map[string][]float64{"infer": {130, 400, 100}, "check": {100, 200, 200},
			"flaky": {1, 1, 1}},
		map[string]int64{"flaky": 3})

	tests := []struct {
		name        string
		fig         Figure
		wantVerdict string
		wantValue   float64 // median measured; NaN when none
		wantRatio   float64 // NaN when none
		wantNote    string
	}{
		{"min goal met at the median",
			Figure{Measure: goSrc("fast"), Goal: Goal{Min: ptr(1000)}},
			Meets, 1000, 1, ""},
		{"max goal missed",
			Figure{Measure: goSrc("fast"), Goal: Goal{Max: ptr(500)}},
			Misses, 1000, 2, ""},
		{"median of an even count",
			Figure{Measure: goSrc("even"), Goal: Goal{Max: ptr(5)}},
			Meets, 2.5, 0.5, ""},
		{"absolute goal with a same-run reference",
			Figure{Measure: goSrc("fast"), Goal: Goal{Min: ptr(2000)},
				Reference: goSrc("copy")},
			Misses, 1000, 1000.0 / 45000, ""},
		// Round by round 1.3, 2 and 0.5, whose median 1.3 meets ≤ 1.3; the ratio of
		// the medians would be 130/200.
		{"ratio goal paired by round",
			Figure{Measure: loadSrc("infer"), Goal: Goal{MaxRatio: ptr(1.3)},
				Reference: loadSrc("check")},
			Meets, 130, 1.3, ""},
		{"min ratio goal missed",
			Figure{Measure: loadSrc("check"), Goal: Goal{MinRatio: ptr(1.5)},
				Reference: loadSrc("infer")},
			Misses, 200, 1 / 1.3, ""},
		{"failed requests make it invalid",
			Figure{Measure: loadSrc("flaky"), Goal: Goal{MaxRatio: ptr(100)},
				Reference: loadSrc("check")},
			Invalid, 1, 0.005, "3 requests failed"},
		{"missing result",
			Figure{Measure: goSrc("absent"), Goal: Goal{Min: ptr(1)}},
			NotMeasured, math.NaN(), math.NaN(), "no result of Benchmarkabsent, x/s"},
		{"missing reference of a ratio goal",
			Figure{Measure: loadSrc("infer"), Goal: Goal{MaxRatio: ptr(1)},
				Reference: loadSrc("absent")},
			NotMeasured, 130, math.NaN(), "no result of the reference"},
		{"not built",
			Figure{NotMeasured: "not built", Goal: Goal{MinRatio: ptr(2)},
				Reference: &Source{Label: "no batching"}},
			NotMeasured, math.NaN(), math.NaN(), "not built"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fig.Name, tt.fig.Unit = tt.name, "x/s"
			row := evaluate(&tt.fig, res)
			if row.Verdict != tt.wantVerdict {
				t.Errorf("verdict %q, want %q", row.Verdict, tt.wantVerdict)
			}
			if !sameOrAbsent(row.Measured, tt.wantValue) {
				t.Errorf("measured %v, want %v", deref(row.Measured), tt.wantValue)
			}
			if row.Verdict != NotMeasured && !sameOrAbsent(row.Ratio, tt.wantRatio) {
				t.Errorf("ratio %v, want %v", deref(row.Ratio), tt.wantRatio)
			}
			if !strings.Contains(row.Note, tt.wantNote) {
				t.Errorf("note %q, want it to say %q", row.Note, tt.wantNote)
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// sameOrAbsent reports whether p holds want (within rounding), or is nil for NaN.
func sameOrAbsent(p *float64, want float64) bool {
	if math.IsNaN(want) {
		return p == nil
	}
	return p != nil && math.Abs(*p-want) <= 1e-9*math.Abs(want)
}

func TestRatioGoalThresholdFollowsReference(t *testing.T) {
	res := fakeResults(nil, map[string][]float64{"infer": {390}, "check": {300}}, nil)
	fig := Figure{Name: "infer", Unit: "ns", Measure: &Source{Load: "infer", Metric: "p99"},
		Goal:      Goal{MaxRatio: ptr(1.3)},
		Reference: &Source{Load: "check", Metric: "p99", Label: "check"}}
	row := evaluate(&fig, res)
	if row.Threshold == nil || math.Abs(*row.Threshold-390) > 1e-9 {
		t.Fatalf("threshold %v, want 1.3 × 300 ns", deref(row.Threshold))
	}
	if row.Goal != "≤ 1.30 × ref (390 ns)" {
		t.Errorf("goal printed %q, want the factor and the threshold it gives", row.Goal)
	}
}

func TestProjectSpecLoads(t *testing.T) {
	spec, err := LoadSpec(filepath.Join("..", "..", "docs", "bench.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Every figure is printed, measured or not.
	rows := Evaluate(spec, NewResults())
	if len(rows) != len(spec.Figures) {
		t.Fatalf("%d rows for %d figures", len(rows), len(spec.Figures))
	}
	for _, r := range rows {
		if r.Verdict != NotMeasured {
			t.Errorf("%s: verdict %q without any result", r.Figure, r.Verdict)
		}
	}
	if _, err := os.Stat(filepath.Join("..", "bench.sh")); err != nil {
		t.Errorf("the spec's runner is missing: %v", err)
	}
}

func TestRoundsShortOfTheirRateAreNoted(t *testing.T) {
	dir := t.TempDir()
	rounds := map[string]string{
		"infer.1.json": `{"options": {"rps": 1000}, "count": 7000, "rps": 700}`,
		"infer.2.json": `{"options": {"rps": 1000}, "count": 9900, "rps": 990}`,
		"max.1.json":   `{"options": {"rps": 0}, "count": 9000, "rps": 900}`,
	}
	for name, head := range rounds {
		report := strings.TrimSuffix(head, "}") +
			`, "latencyDistribution": [{"percentage": 99, "latency": 5}]}`
		if err := os.WriteFile(filepath.Join(dir, name), []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := NewResults()
	if err := res.AddLoadDir(dir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		load, wantNote string
	}{
		{"infer", "infer held 700 of 1000 req/s"},
		{"max", ""}, // as fast as possible: no rate to hold
	}
	for _, tt := range tests {
		t.Run(tt.load, func(t *testing.T) {
			fig := Figure{Name: tt.load, Unit: "ns", Goal: Goal{Max: ptr(10)},
				Measure: &Source{Load: tt.load, Metric: "p99"}}
			row := evaluate(&fig, res)
			if row.Note != tt.wantNote || row.Verdict != Meets {
				t.Errorf("verdict %q note %q, want meets and %q", row.Verdict, row.Note,
					tt.wantNote)
			}
		})
	}
}
