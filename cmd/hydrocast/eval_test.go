package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/evaluation"
	"github.com/hydrocast/hydrocast/models"
)

// twoVersionHome copies the trained fixture and trains a second version of every
// family on the same cohort with another seed, leaving the fixture as it was.
func twoVersionHome(t *testing.T) string {
	t.Helper()
	trained, _ := trainedHome(t)
	home := t.TempDir()
	if err := os.CopyFS(home, os.DirFS(trained)); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, home: home}
	c.must("train", "--data", filepath.Join(home, "cohort"), "--seed", "9")
	return home
}

func runEvalCommand(t *testing.T, home string, args ...string) (string, error) {
	t.Helper()
	cmd := newEvalCommand(&globals{home: home})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestEvalComparesTwoVersions(t *testing.T) {
	home := twoVersionHome(t)
	cohort := filepath.Join(home, "cohort")

	// The command, end to end, as Parquet.
	pq := filepath.Join(t.TempDir(), "eval.parquet")
	if _, err := runEvalCommand(t, home, "--model", "sweat-rate", "--versions", "1,2",
		"--data", cohort, "--format", "parquet", "--out", pq); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := evaluation.ReadParquet(f)
	if err != nil {
		t.Fatal(err)
	}
	var diff *evaluation.Row
	segments := map[string]bool{}
	for i, r := range rows {
		if r.Output != models.OutSweatRate {
			t.Fatalf("row %+v: output %q, want %s", r, r.Output, models.OutSweatRate)
		}
		if r.Analysis == evaluation.AnalysisComparison && r.Version == "b-a" &&
			r.Metric == evaluation.MetricMAE {
			diff = &rows[i]
		}
		if r.Analysis == evaluation.AnalysisSegment {
			segments[strings.SplitN(r.Segment, "=", 2)[0]] = true
		}
	}
	if diff == nil || !(diff.Lower <= diff.Value && diff.Value <= diff.Upper) {
		t.Errorf("MAE difference row %+v: want one inside its interval", diff)
	}
	if !segments["sport"] || !segments["heat"] || !segments["acclimatised"] {
		t.Errorf("segment kinds %v: want sport, heat and acclimatised", segments)
	}

	// The same results as JSON and as a table.
	g := &globals{home: home}
	res, err := computeEval(t.Context(), g, &evalFlags{model: "sweat-rate", versions: "1,2",
		data: cohort, format: "json", seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkEvalResult(t, res)
	var js, text bytes.Buffer
	if err := writeEval(&js, &evalFlags{format: "json"}, res); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Table []map[string]any `json:"table"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Table) != len(rows) {
		t.Errorf("JSON table has %d rows, Parquet %d", len(doc.Table), len(rows))
	}
	if err := writeEval(&text, &evalFlags{format: "table"}, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sweat_rate_l_per_h (L/h)", "sport: ", "heat: ",
		"acclimatised: ", "B − A (version 2 − version 1)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("table output lacks %q:\n%s", want, text.String())
		}
	}
}

// checkEvalResult checks what every evaluation of the sweat model must hold.
func checkEvalResult(t *testing.T, res *evalResult) {
	t.Helper()
	if len(res.Outputs) != 1 || len(res.Outputs[0].Versions) != 2 || res.Rows == 0 {
		t.Fatalf("result %+v: want one output scored for two versions", res)
	}
	o := res.Outputs[0]
	for _, v := range o.Versions {
		m := v.Metrics
		if m.N == 0 || m.N > res.Rows || !(m.MAE > 0 && m.MAE < 1) || m.RMSE < m.MAE ||
			m.Coverage == nil || *m.Coverage < 0.5 || *m.Coverage > 1 {
			t.Errorf("version %d metrics %+v implausible for sweat rate in L/h",
				v.Version, m)
		}
		for kind, segs := range v.Segments {
			n := 0
			var abs float64
			for _, s := range segs {
				n += s.N
				abs += s.MAE * float64(s.N)
			}
			// Segments partition the rows: their counts and errors add up.
			if n != m.N || math.Abs(abs/float64(n)-m.MAE) > 1e-9 {
				t.Errorf("version %d %s segments: %d rows, MAE %v; overall %d, %v",
					v.Version, kind, n, abs/float64(n), m.N, m.MAE)
			}
		}
	}
	c := o.Comparison
	if c == nil || c.Rows != o.Versions[0].Metrics.N || c.Groups != res.Sessions {
		t.Fatalf("comparison %+v: want every row and session", c)
	}
	for _, d := range c.Differences {
		if d.Metric == evaluation.MetricMAE &&
			math.Abs(d.Diff-(o.Versions[1].Metrics.MAE-o.Versions[0].Metrics.MAE)) > 1e-9 {
			t.Errorf("MAE difference %v is not version 2's MAE minus version 1's", d.Diff)
		}
	}
}

func TestEvalRefusals(t *testing.T) {
	c := newCLI(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--model", "sweat", "--versions", "1", "--data", "x"}, "--model"},
		{[]string{"--model", "sweat-rate", "--versions", "1,2,3", "--data", "x"},
			"--versions"},
		{[]string{"--model", "sweat-rate", "--versions", "1,", "--data", "x"}, "--versions"},
		{[]string{"--model", "sweat-rate", "--versions", "1", "--data", "x",
			"--format", "parquet"}, "--out"},
		{[]string{"--model", "sweat-rate", "--versions", "1", "--data", "x",
			"--format", "csv"}, "--format"},
		{[]string{"--model", "sweat-rate", "--versions", "1", "--data",
			filepath.Join(c.home, "nowhere")}, "--data"},
		{[]string{"--model", "sweat-rate"}, "--data and --versions are required"},
		{[]string{"--model", "sweat-rate", "--data", "x"}, "--data and --versions"},
		{[]string{"--model", "sweat-rate", "--labels", "x"}, "--predictions"},
		{[]string{"--model", "anomaly", "--labels", "x", "--predictions", "y"}, "--labels"},
	}
	for _, tc := range cases {
		_, err := runEvalCommand(t, c.home, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one naming %q", tc.args, err, tc.want)
		}
	}
}

func TestHeatCategories(t *testing.T) {
	cases := []struct {
		wbgt float64
		want string
	}{
		{-5, "low (WBGT < 18)"}, {17.99, "low (WBGT < 18)"}, {18, "moderate (WBGT 18-23)"},
		{27.8, "very high (WBGT 27.8-32.2)"}, {32.2, "extreme (WBGT > 32.2)"},
		{math.NaN(), "unknown"},
	}
	for _, tc := range cases {
		if got := heatCategory(tc.wbgt); got != tc.want {
			t.Errorf("heatCategory(%v) = %q, want %q", tc.wbgt, got, tc.want)
		}
	}
	if heatRank("low (WBGT < 18)") >= heatRank("extreme (WBGT > 32.2)") ||
		heatRank("unknown") != len(heatCategories) {
		t.Error("heat categories do not rank coolest first, unknown last")
	}
}

func TestEvalRealisedFromLabels(t *testing.T) {
	c := newCLI(t)
	labels, preds := writeLabelFiles(t, t.TempDir())
	out, err := runEvalCommand(t, c.home, "--model", "sweat-rate", "--labels", labels,
		"--predictions", preds, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Realised struct {
			Matched  int `json:"matched_rows"`
			Versions []struct {
				Version  string             `json:"version"`
				Sessions int                `json:"sessions"`
				Metrics  evaluation.Metrics `json:"metrics"`
			} `json:"versions"`
			AB []evaluation.ABPair `json:"ab"`
		} `json:"realised_accuracy"`
		Table []map[string]any `json:"table"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	r := doc.Realised
	if r.Matched != 18 || len(r.Versions) != 2 || r.Versions[0].Sessions != 3 {
		t.Fatalf("realised accuracy %+v: want 18 rows over versions 1 and 2, 3 sessions each", r)
	}
	// Every prediction is 0.10, 0.11 or 0.12 L/h above its label.
	if mae := r.Versions[0].Metrics.MAE; math.Abs(mae-0.11) > 1e-9 {
		t.Errorf("version 1 MAE %v, want 0.11", mae)
	}
	if len(r.AB) != 1 || r.AB[0].A != "1" || r.AB[0].B != "2" {
		t.Errorf("A/B pairs %+v, want 1 vs 2", r.AB)
	}
	realised := 0
	for _, row := range doc.Table {
		if row["analysis"] == evaluation.AnalysisRealised {
			realised++
		}
	}
	if realised == 0 {
		t.Error("the table has no realised rows")
	}

	text, err := runEvalCommand(t, c.home, "--model", "sweat-rate", "--labels", labels,
		"--predictions", preds)
	if err != nil || !strings.Contains(text, "Realised accuracy per version") {
		t.Errorf("table output (%v):\n%s", err, text)
	}
}
