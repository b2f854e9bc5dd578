package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/evaluation/drift"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
)

// driftHome returns a state folder whose registry holds sweat-rate version 1 with a
// reference profile over its inputs and outputs, and whose drift folder holds live
// sketches of it in which heart_rate_bpm_mean_15m has shifted by 3 sd. Version 2 has
// no reference.
func driftHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	fam, _ := models.FamilyByName(models.SweatRate)
	names := append(append([]string(nil), fam.Features...), models.OutSweatRate)
	rng := rand.New(rand.NewPCG(3, 3))
	cols := make([]drift.Column, len(names))
	for i, n := range names {
		cols[i] = drift.Column{Name: n, Values: make([]float64, 3000)}
		for j := range cols[i].Values {
			cols[i].Values[j] = float64(10*i) + rng.NormFloat64()
		}
	}
	p, err := drift.BuildProfile(cols, drift.ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := json.Marshal(p)

	ctx := registry.WithPrincipal(context.Background(), "tester")
	reg, err := local.Open(ctx, filepath.Join(home, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	sig := registry.Signature{Inputs: []registry.Tensor{{Name: models.InputName,
		Datatype: "FP32", Shape: []int64{-1, int64(len(fam.Features))},
		Features: fam.Features}}, Outputs: []registry.Tensor{{Name: models.OutSweatRate,
		Datatype: "FP32", Shape: []int64{-1, 1}}}}
	for _, r := range [][]byte{ref, nil} {
		_, err := reg.Publish(ctx, registry.PublishRequest{Model: fam.Name, Signature: sig,
			Reference: r, Artifact: []byte("an onnx file"),
			Promote: &registry.Promotion{Alias: "production"}})
		if err != nil {
			t.Fatal(err)
		}
	}

	live, err := drift.NewLive(drift.LiveOptions{Dir: filepath.Join(home, "drift")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-30 * time.Hour).Truncate(time.Hour)
	k := drift.Key{Model: fam.Name, Version: 1}
	for j := range 3000 {
		row := make([]float64, len(names))
		for i := range row {
			row[i] = float64(10*i) + rng.NormFloat64()
		}
		row[0] += 3 // heart_rate_bpm_mean_15m
		live.Observe(k, ref, names, start.Add(time.Duration(j)*36*time.Second), row)
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	return home
}

func runDrift(t *testing.T, home string, args ...string) (string, error) {
	t.Helper()
	cmd := newDriftCommand(&globals{home: home})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestDriftReportJSON(t *testing.T) {
	home := driftHome(t)
	dir := t.TempDir()
	labels, preds := writeLabelFiles(t, dir)

	out := filepath.Join(dir, "drift.json")
	if _, err := runDrift(t, home, "report", "--model", "sweat-rate", "--version", "1",
		"--format", "json", "--out", out, "--labels", labels, "--predictions", preds); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Title    string `json:"title"`
		LiveRows int64  `json:"live_rows"`
		Features []struct {
			Name  string `json:"name"`
			Drift bool   `json:"drift"`
		} `json:"features"`
		Realised struct {
			Matched  int `json:"matched_rows"`
			Versions []struct {
				Version string `json:"version"`
			} `json:"versions"`
		} `json:"realised_accuracy"`
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Title != "sweat-rate v1" || doc.LiveRows != 3000 {
		t.Errorf("title %q, %d live rows; want sweat-rate v1 and 3000", doc.Title, doc.LiveRows)
	}
	if len(doc.Features) != 12 || doc.Features[0].Name != "heart_rate_bpm_mean_15m" ||
		!doc.Features[0].Drift || doc.Features[1].Drift {
		t.Errorf("features %+v: want 12, only heart_rate_bpm_mean_15m drifted, first", doc.Features)
	}
	if doc.Realised.Matched != 18 || len(doc.Realised.Versions) != 2 {
		t.Errorf("realised accuracy %+v: want 18 matched rows in versions 1 and 2", doc.Realised)
	}

	// --since keeps the last day of the 30 hours.
	recent, err := runDrift(t, home, "report", "--model", "sweat-rate", "--version", "1",
		"--format", "json", "--since", "24h")
	if err != nil {
		t.Fatal(err)
	}
	var window struct {
		LiveRows int64 `json:"live_rows"`
	}
	if err := json.Unmarshal([]byte(recent), &window); err != nil {
		t.Fatal(err)
	}
	if window.LiveRows < 2300 || window.LiveRows > 2500 {
		t.Errorf("--since 24h: %d rows, want the 2400 or so of the last day", window.LiveRows)
	}
}

// writeLabelFiles writes six labelled sessions (1.0 L/h each) and their predictions,
// three a session, 0.10 to 0.12 L/h too high, alternating between versions 1 and 2.
func writeLabelFiles(t *testing.T, dir string) (labels, preds string) {
	t.Helper()
	labels, preds = filepath.Join(dir, "labels.csv"), filepath.Join(dir, "preds.jsonl")
	var lb, pb strings.Builder
	lb.WriteString("athlete_id,session_start,sweat_rate_l_per_h\n")
	for s := range 6 {
		start := time.Date(2025, 7, 1+s, 9, 0, 0, 0, time.UTC)
		fmt.Fprintf(&lb, "a%d,%s,1.0\n", s, start.Format(time.RFC3339))
		for m := range 3 {
			fmt.Fprintf(&pb, `{"time":%q,"athlete_id":"a%d","sweat_rate_l_per_h":%v,`+
				`"model_versions":{"sweat-rate":"%d"}}`+"\n",
				start.Add(time.Duration(m)*time.Minute).Format(time.RFC3339), s,
				1.1+float64(m)/100, 1+s%2)
		}
	}
	for path, text := range map[string]string{labels: lb.String(), preds: pb.String()} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return labels, preds
}

func TestDriftReportRefusals(t *testing.T) {
	home := driftHome(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--model", "sweat-rate", "--format", "pdf"}, "--format"},
		{[]string{"--model", "sweat-rate", "--version", "2"}, "no reference profile"},
		{[]string{"--model", "sweat-rate", "--version", "7"}, "--version 7"},
		{[]string{"--model", "sweat-rate", "--version", "1", "--state", t.TempDir()},
			"no live sketches"},
		{[]string{"--model", "sweat-rate", "--labels", "x.csv"}, "--predictions"},
		{[]string{"--model", "anomaly", "--labels", "x", "--predictions", "y"}, "--labels"},
		{[]string{"--model", "sweat-rate", "--version", "1", "--labels", "missing.csv",
			"--predictions", "missing.jsonl"}, "--labels"},
	}
	for _, tc := range cases {
		_, err := runDrift(t, home, append([]string{"report"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one naming %q", tc.args, err, tc.want)
		}
	}
}

func TestDriftReportHTMLRendersInChromium(t *testing.T) {
	bin := chromiumPath(t)
	home := driftHome(t)
	page := filepath.Join(t.TempDir(), "drift.html")
	if _, err := runDrift(t, home, "report", "--model", "sweat-rate", "--version", "1",
		"--format", "html", "--out", page); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--user-data-dir="+t.TempDir(), "--enable-logging=stderr",
		"--v=0", "--dump-dom", "file://"+page)
	var dom, logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &dom, &logs
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, logs.String())
	}
	// One dataset chart and two per feature.
	if got := strings.Count(dom.String(), "<svg "); got != 1+2*12 {
		t.Errorf("the parsed DOM has %d SVG charts, want 25", got)
	}
	if !strings.Contains(dom.String(), "heart_rate_bpm_mean_15m") {
		t.Error("the parsed DOM does not name the drifted feature")
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Refused to") {
			t.Errorf("browser console: %s", line)
		}
	}
}

// chromiumPath returns a headless-capable Chromium, skipping the test when there is
// none outside CI (CI must install the apt package chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("chromium not installed (apt package: chromium)")
	}
	t.Fatal("chromium not installed; CI must install the apt package chromium")
	return ""
}
