package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/evaluation"
	"github.com/hydrocast/hydrocast/features/pit"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/training"
	"github.com/hydrocast/hydrocast/training/simulate"
)

func TestSessionLabels(t *testing.T) {
	start := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	got := sessionLabels([]evaluation.Label{
		{AthleteID: "a", SessionStart: start, SessionEnd: start.Add(20 * time.Minute),
			SweatRateLPerH: 1.2},
		// Without an end: until the athlete's next session.
		{AthleteID: "b", SessionStart: start, SweatRateLPerH: 0.8},
		{AthleteID: "b", SessionStart: start.Add(12 * time.Minute), SweatRateLPerH: 0.9,
			SessionEnd: start.Add(13 * time.Minute)},
	}, 5*time.Minute)
	want := []struct {
		athlete string
		minute  int
		rate    float64
	}{{"a", 1, 1.2}, {"a", 6, 1.2}, {"a", 11, 1.2}, {"a", 16, 1.2},
		{"b", 1, 0.8}, {"b", 6, 0.8}, {"b", 11, 0.8}}
	// b's second session ends at its first minute, 13: it has no row.
	if len(got) != len(want) {
		t.Fatalf("%d labels %v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.AthleteID != w.athlete || !g.Time.Equal(start.Add(time.Duration(w.minute)*
			time.Minute)) || len(g.Values) != 1 || g.Values[0] != w.rate {
			t.Errorf("label %d: %s %s %v, want %s minute %d %v", i, g.AthleteID, g.Time,
				g.Values, w.athlete, w.minute, w.rate)
		}
	}
}

func TestReadLabelFiles(t *testing.T) {
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "labels.jsonl")
	writeFile(t, jsonl, `{"athlete_id":"a","session_start":"2026-07-01T09:00:00Z",`+
		`"session_end":"2026-07-01T09:10:00Z","sweat_rate_l_per_h":1.1}`+"\n")
	instants := filepath.Join(dir, "pills.csv")
	writeFile(t, instants, "athlete_id,time,core_temp_15m_c,sensor_fault\n"+
		"a,2026-07-01T09:03:00Z,38.1,\n"+
		"b, 2026-07-01T10:00:00+02:00 ,,1\n")

	set, err := readLabelFiles([]string{jsonl, instants}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{models.OutSweatRate, models.OutCoreTemp15m, training.LabelFault}
	if strings.Join(set.names, ",") != strings.Join(wantNames, ",") {
		t.Fatalf("names %v, want %v", set.names, wantNames)
	}
	if len(set.labels) != 4 {
		t.Fatalf("%d labels, want 2 session rows and 2 instants: %v", len(set.labels),
			set.labels)
	}
	pill, fault := set.labels[2], set.labels[3]
	if !math.IsNaN(pill.Values[0]) || pill.Values[1] != 38.1 || !math.IsNaN(pill.Values[2]) {
		t.Errorf("pill label values %v", pill.Values)
	}
	if fault.AthleteID != "b" || !fault.Time.Equal(time.Date(2026, 7, 1, 8, 0, 0, 0,
		time.UTC)) || fault.Values[2] != 1 {
		t.Errorf("fault label %+v", fault)
	}
	if set.labels[1].Values[0] != 1.1 || !math.IsNaN(set.labels[1].Values[1]) {
		t.Errorf("session row values %v", set.labels[1].Values)
	}
}

func TestReadLabelFilesRefuses(t *testing.T) {
	cases := []struct{ name, content, want string }{
		{"bad json", `{"athlete_id":"a","session_start":"2026-07-01T09:00:00Z",` +
			`"sweat_rate_l_per_h":1}` + "\n{\"athlete_id\":\n", "line 2"},
		{"unknown column", "athlete_id,time,core_temp_c\n", `"core_temp_c"`},
		{"no label column", "athlete_id,time\n", "at least one label"},
		{"bad time", "athlete_id,time,sensor_fault\na,yesterday,1\n", "line 2: time"},
		{"bad number", "athlete_id,time,sensor_fault\na,2026-07-01T09:00:00Z,0\n" +
			"a,2026-07-01T09:01:00Z,yes\n", `line 3: sensor_fault: "yes"`},
		{"out of range", "athlete_id,time,core_temp_30m_c\na,2026-07-01T09:00:00Z,98.6\n",
			"line 2: core_temp_30m_c: 98.6: want a value in [30, 45]"},
		{"fault not 0 or 1", "athlete_id,time,sensor_fault\na,2026-07-01T09:00:00Z,0.5\n",
			"line 2: sensor_fault: 0.5: want 0 or 1"},
		{"no athlete", "athlete_id,time,sensor_fault\n,2026-07-01T09:00:00Z,1\n",
			"line 2: athlete_id is empty"},
		{"short line", "athlete_id,time,sensor_fault\na\n", "line 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "labels")
			writeFile(t, path, c.content)
			_, err := readLabelFiles([]string{path}, time.Minute)
			if err == nil || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming the file and %q", err, c.want)
			}
		})
	}
}

// FuzzReadInstantLabels reads arbitrary bytes as a CSV of instant labels: it must
// return labels that pass pit's checks, or an error naming a line or the header.
func FuzzReadInstantLabels(f *testing.F) {
	f.Add("athlete_id,time,sweat_rate_l_per_h,sensor_fault\n" +
		"a,2026-07-01T09:00:00Z,1.2,0\nb,2026-07-01T09:05:00+01:00,,1\n")
	f.Add("time,athlete_id,core_temp_60m_c\n2026-07-01T09:00:00Z,a,37.5\n")
	f.Add("athlete_id,time,sensor_fault\n\"a\nb\",2026-07-01T09:00:00Z,1\n")
	f.Fuzz(func(t *testing.T, data string) {
		names, labels, err := readInstantLabels(strings.NewReader(data))
		if err != nil {
			if !errors.Is(err, errBadLabels) || !strings.Contains(err.Error(), "line") &&
				!strings.Contains(err.Error(), "header") {
				t.Fatalf("error %v does not name a line or the header", err)
			}
			return
		}
		for _, l := range labels {
			if l.AthleteID == "" || l.Time.IsZero() || len(l.Values) != len(names) {
				t.Fatalf("label %+v for names %v", l, names)
			}
			for i, v := range l.Values {
				if want, ok := training.LabelWant(names[i], v); !ok {
					t.Fatalf("label %s = %v accepted, training wants %s", names[i], v, want)
				}
			}
		}
	})
}

func TestTrainingSetFlagErrors(t *testing.T) {
	home := t.TempDir()
	labels := filepath.Join(home, "labels.csv")
	writeFile(t, labels, "athlete_id,time,sensor_fault\na,2026-07-01T09:00:00Z,1\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--labels", labels}, "--out"},
		{[]string{"--out", "x.parquet"}, "labels.jsonl"},
		{[]string{"--labels", labels, "--out", "x.parquet"}, "not an offline store"},
		{[]string{"--labels", labels, "--out", "x", "--every", "0s"}, "--every"},
		{[]string{"--labels", labels, "--out", "x", "--from", "June"}, "--from"},
	} {
		_, _, err := runSub(t, home, newTrainingSetCommand, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %s", c.args, err, c.want)
		}
	}
}

// TestEndToEndTrainingSet simulates a cohort, whose folder is an offline store,
// records each session's measured sweat rate as RecordOutcome does, builds the
// training set with hydrocast trainingset and trains the sweat family from it
// through a job file.
func TestEndToEndTrainingSet(t *testing.T) {
	if lib, err := filepath.Glob(filepath.Join("..", "..", ".cache", "onnxruntime", "*",
		"libonnxruntime.so.1")); err == nil && len(lib) > 0 &&
		os.Getenv("HYDROCAST_ORT_LIB") == "" {
		abs, _ := filepath.Abs(lib[0])
		t.Setenv("HYDROCAST_ORT_LIB", abs)
	}
	c := newCLI(t)
	c.must("simulate", "--athletes", "12", "--sessions", "3", "--seed", "5",
		"--fit-files", "0")
	cohortDir := filepath.Join(c.home, "cohort")
	cohort, err := simulate.LoadCohort(cohortDir)
	if err != nil {
		t.Fatal(err)
	}
	log, err := inference.OpenOutcomeLog(labelsPath(c.home))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cohort.Sessions {
		err := log.Append(evaluation.Label{AthleteID: s.AthleteID, SessionStart: s.Start,
			SessionEnd: s.End, SweatRateLPerH: s.MeasuredSweatRate})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}

	set := filepath.Join(t.TempDir(), "set.parquet")
	out := c.must("trainingset", "--offline", cohortDir, "--out", set)
	if !strings.Contains(out, "wrote ") || !strings.Contains(out, models.OutSweatRate) {
		t.Errorf("trainingset printed %q", out)
	}
	src, err := training.OpenParquetSource(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := training.DatasetsFromRecords(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Sweat == nil || ds.Sweat.Rows() < 12*3 || ds.Thermal != nil || ds.Anomaly != nil {
		t.Fatalf("datasets of the training set: %+v", ds)
	}

	job := filepath.Join(t.TempDir(), "job.yaml")
	writeFile(t, job, "source:\n  type: parquet\n  parquet:\n    trainingset: "+set+
		"\nfamily: [sweat-rate]\nseed: 3\n")
	report := filepath.Join(t.TempDir(), "report.json")
	out = c.must("train", "--config", job, "--dry-run", "--report", report)
	if !strings.Contains(out, models.SweatRate) {
		t.Errorf("train printed no sweat-rate result:\n%s", out)
	}
	var rep training.Report
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Families) != 1 || rep.Families[0].Family != models.SweatRate ||
		rep.Families[0].TrainRows == 0 {
		t.Fatalf("report families %+v", rep.Families)
	}
	if rep.Data.Generator != "training set" || rep.Data.Fingerprint != src.Fingerprint() ||
		rep.Data.Athletes != 12 {
		t.Errorf("report data %+v, want the training set's fingerprint %s", rep.Data,
			src.Fingerprint())
	}
}

// TestTrainingSetOutRefused: --out never replaces an input, a file of the offline
// store or a non-file, and replaces an existing set only with --force.
func TestTrainingSetOutRefused(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "offline")
	labels := filepath.Join(dir, "labels.csv")
	existing := filepath.Join(dir, "set.parquet")
	for _, p := range []string{filepath.Join(store, "readings", "x.parquet"), labels,
		existing} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		out   string
		force bool
		want  string
	}{
		{labels, true, "--labels input"},
		{filepath.Join(store, "readings", "x.parquet"), true, "inside the offline store"},
		{dir, true, "not a regular file"},
		{existing, false, "--force"},
		{filepath.Join(dir, "no", "set.parquet"), false, "folder does not exist"},
	} {
		err := checkOut(c.out, []string{labels}, store, c.force)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--out %s (force %v): error %v, want one saying %q", c.out, c.force,
				err, c.want)
		}
	}
	if err := checkOut(existing, []string{labels}, store, true); err != nil {
		t.Errorf("--force over an earlier set: %v", err)
	}
	if err := checkOut(filepath.Join(dir, "new.parquet"), nil, store, false); err != nil {
		t.Errorf("a new file: %v", err)
	}
}

// TestWarnWithoutReadings warns when no row, or most rows, of a set have a reading
// of their athlete before them, and stays quiet otherwise.
func TestWarnWithoutReadings(t *testing.T) {
	cases := []struct {
		written pit.Written
		want    string // "" for no warning
	}{
		{pit.Written{Rows: 0}, "no label fell where store/ holds readings"},
		{pit.Written{Rows: 21, WithoutReadings: 21}, "21 of 21 rows have no reading"},
		{pit.Written{Rows: 10, WithoutReadings: 6}, "6 of 10 rows"},
		{pit.Written{Rows: 10, WithoutReadings: 5}, ""},
		{pit.Written{Rows: 72, WithoutReadings: 0}, ""},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		warnWithoutReadings(&buf, c.written, "store/")
		got := buf.String()
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%+v: printed %q, want %q", c.written, got, c.want)
		}
	}
}
