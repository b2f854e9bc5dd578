package main

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	const measured = `
figures:
  - name: ingest
    unit: readings/s
    measure: {go: example.com/p, bench: Ingest, metric: readings/s}
    goal: {min: 1000}
    reference: {label: copy, go: example.com/p, bench: Copy, metric: readings/s}
  - name: infer p99
    unit: ns
    measure: {load: infer, metric: p99}
    goal: {max_ratio: 1.3}
    reference: {label: check, load: check, metric: p99}
  - name: batching
    unit: req/s
    not_measured: not built
    goal: {min_ratio: 2}
    reference: {label: no batching}
`
	tests := []struct {
		name    string
		spec    string
		wantErr string // empty: valid
	}{
		{"valid", measured, ""},
		{"unknown key", strings.Replace(measured, "min: 1000", "minimum: 1000", 1),
			"minimum"},
		{"no figures", "figures: []\n", "no figures"},
		{"two goals", strings.Replace(measured, "{min: 1000}", "{min: 1, max: 2}", 1),
			"exactly one of min"},
		{"ratio goal without reference", `
figures:
  - {name: a, unit: ns, measure: {load: x, metric: p99}, goal: {max_ratio: 1}}
`, "needs a reference"},
		{"measure and not_measured", `
figures:
  - name: a
    unit: ns
    measure: {load: x, metric: p99}
    not_measured: not built
    goal: {max: 1}
`, "exactly one of measure and not_measured"},
		{"unknown load metric", strings.Replace(measured, "{load: infer, metric: p99}",
			"{load: infer, metric: p42}", 1), "p42"},
		{"go source without bench", strings.Replace(measured, "bench: Ingest, ", "", 1),
			"go without bench"},
		{"measured reference without source", strings.Replace(measured,
			"{label: check, load: check, metric: p99}", "{label: check}", 1),
			"exactly one of go and load"},
		{"reference without label", strings.Replace(measured, "label: copy, ", "", 1),
			"no label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := ParseSpec([]byte(tt.spec))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(spec.Figures) != 3 || spec.Figures[1].Goal.MaxRatio == nil ||
					*spec.Figures[1].Goal.MaxRatio != 1.3 {
					t.Errorf("figures %+v: want three, the second with max_ratio 1.3",
						spec.Figures)
				}
				return
			}
			if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want ErrSpec saying %q", err, tt.wantErr)
			}
		})
	}
}
