package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture is a simulated cohort and the models trained on it, made once for every
// end-to-end test of this package: training is the slow step.
var fixture struct {
	once sync.Once
	home string
	args string // the simulator's suggested replay arguments for its first FIT file
	err  error
}

// trainedHome returns a state folder whose registry holds production versions of the
// three families, trained on a small simulated cohort.
func trainedHome(t *testing.T) (home, replayArgs string) {
	t.Helper()
	fixture.once.Do(func() {
		home, err := os.MkdirTemp("", "hydrocast-e2e-")
		if err != nil {
			fixture.err = err
			return
		}
		c := &cli{t: t, home: home}
		out, err := c.run("simulate", "--athletes", "24", "--seed", "3", "--fit-files", "2")
		if err != nil {
			fixture.err = err
			return
		}
		for _, line := range strings.Split(out, "\n") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(line), "hydrocast replay "); ok {
				fixture.args = s
				break
			}
		}
		_, fixture.err = c.run("train", "--data", filepath.Join(home, "cohort"),
			"--publish-alias", "production")
		fixture.home = home
	})
	if fixture.err != nil {
		t.Fatalf("simulate and train: %v", fixture.err)
	}
	return fixture.home, fixture.args
}

// timelineRows parses replay's JSON lines.
func timelineRows(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("replay printed a line that is not JSON: %q", sc.Text())
		}
		rows = append(rows, row)
	}
	return rows
}

// checkTimeline asserts what every replayed minute must show: the documented keys and
// physiologically plausible values.
func checkTimeline(t *testing.T, rows []map[string]any) {
	t.Helper()
	if len(rows) == 0 {
		t.Fatal("replay printed no rows")
	}
	for i, row := range rows {
		for _, key := range []string{"time", "athlete_id", "heart_rate_bpm",
			"sweat_rate_l_per_h", "core_temp_c", "core_temp_30m_c", "anomaly_score",
			"fluid_ml_per_15min", "alerts", "model_versions"} {
			if _, ok := row[key]; !ok {
				t.Fatalf("row %d lacks %q: %v", i, key, row)
			}
		}
		if _, err := time.Parse(time.RFC3339, row["time"].(string)); err != nil {
			t.Errorf("row %d: time %v is not RFC 3339", i, row["time"])
		}
		sweat, core := row["sweat_rate_l_per_h"].(float64), row["core_temp_c"].(float64)
		core30, anomaly := row["core_temp_30m_c"].(float64), row["anomaly_score"].(float64)
		if sweat < 0.2 || sweat > 3.0 {
			t.Errorf("row %d: sweat rate %.2f L/h outside 0.2–3.0", i, sweat)
		}
		if core < 36 || core > 41 || core30 < 36 || core30 > 41 {
			t.Errorf("row %d: core temperature %.2f (in 30 min %.2f) outside 36–41 °C",
				i, core, core30)
		}
		if anomaly < 0 || anomaly > 1 {
			t.Errorf("row %d: anomaly score %v outside 0–1", i, anomaly)
		}
		if len(row["model_versions"].(map[string]any)) != 3 {
			t.Errorf("row %d: model versions %v, want the three families", i,
				row["model_versions"])
		}
	}
}

func TestEndToEndServeAndReplayOverGRPC(t *testing.T) {
	home, args := trainedHome(t)
	fields := strings.Fields(args)
	if len(fields) < 7 {
		t.Fatalf("simulate suggested no replay command (got %q)", args)
	}

	addr, stop := serveHome(t, home)
	c := &cli{t: t, home: home}
	out := c.must(append([]string{"replay"}, append(fields,
		"--server", addr, "--output", "jsonl")...)...)
	rows := timelineRows(t, out)
	checkTimeline(t, rows)

	// Sustained effort: the estimate at the end of the workout is above its start.
	first, last := rows[0]["core_temp_c"].(float64), rows[len(rows)-1]["core_temp_c"].(float64)
	if len(rows) >= 30 && last <= first {
		t.Errorf("core temperature went from %.2f to %.2f over %d minutes of effort",
			first, last, len(rows))
	}

	if err := stop(); err != nil {
		t.Errorf("serve stopped with %v", err)
	}
}

// serveHome runs hydrocast serve on home, gRPC on a free loopback port and no REST,
// and returns its address and what stops it and returns how it ended.
func serveHome(t *testing.T, home string) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addrFile := filepath.Join(t.TempDir(), "addr")
	served := make(chan error, 1)
	go func() {
		root := newRootCommand()
		root.SetArgs([]string{"--home", home, "serve", "--listen", "127.0.0.1:0",
			"--http-listen", "", "--addr-file", addrFile})
		served <- root.ExecuteContext(ctx)
	}()
	addr = waitForFile(t, addrFile, served)
	return addr, func() error {
		cancel()
		select {
		case err := <-served:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not stop within 15 s of its context ending")
			return nil
		}
	}
}

func waitForFile(t *testing.T, path string, failed <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case err := <-failed:
			t.Fatalf("serve stopped before listening: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not write %s within 30 s", path)
	return ""
}

// sharedData returns the folder of the real recordings beside the checkout, or ""
// when it is absent.
func sharedData(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data", "wearables"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

func TestAcceptanceReplayRealRecordings(t *testing.T) {
	dir := sharedData(t)
	if dir == "" {
		t.Skip("no ../shared/data beside the checkout")
	}
	home, _ := trainedHome(t)
	cases := []struct {
		path    string
		warning string // part of a warning expected on stderr
		minRows int
		weather bool
	}{
		{"fit/fenix2-run.fit", "", 40, true},
		{"fit/edge500-ride-badcrc.fit", "checksum", 60, false},
		{"fit/truncated.fit", "cut short", 1, true},
		{"tcx/run-hr.tcx", "", 5, true},
		{"e4", "", 30, true},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			args := []string{"--home", home, "replay", filepath.Join(dir, tc.path),
				"--athlete", "acceptance-1", "--output", "jsonl"}
			if tc.weather {
				args = append(args, "--ambient-temp-c", "28", "--humidity-pct", "55")
			}
			root := newRootCommand()
			var out, errOut strings.Builder
			root.SetOut(&out)
			root.SetErr(&errOut)
			root.SetArgs(args)
			if err := root.ExecuteContext(context.Background()); err != nil {
				t.Fatalf("replay: %v\n%s", err, errOut.String())
			}
			if tc.warning != "" && !strings.Contains(errOut.String(), tc.warning) {
				t.Errorf("stderr %q lacks a warning about %q", errOut.String(), tc.warning)
			}
			rows := timelineRows(t, out.String())
			if len(rows) < tc.minRows {
				t.Fatalf("%d rows, want at least %d", len(rows), tc.minRows)
			}
			checkTimeline(t, rows)
		})
	}
}

func TestServeRefusesOpenAddressWithoutAuthentication(t *testing.T) {
	c := newCLI(t)
	_, err := c.run("serve", "--listen", "0.0.0.0:0", "--http-listen", "")
	if err == nil || !strings.Contains(err.Error(), "--insecure-allow-unauthenticated") {
		t.Fatalf("serve on 0.0.0.0 without auth: %v; want a refusal naming the flag", err)
	}
}

func TestTrainRefusesSplitsThatLeaveNoOneToTrainOn(t *testing.T) {
	home, _ := trainedHome(t)
	c := &cli{t: t, home: home}
	for _, share := range []string{"1.5", "-0.5", "0.99"} {
		_, err := c.run("train", "--data", filepath.Join(home, "cohort"), "--dry-run",
			"--test-share", share)
		if err == nil || !strings.Contains(err.Error(), "train") {
			t.Errorf("--test-share %s: %v, want a clear refusal", share, err)
		}
	}
}

// Under a traffic policy every assignment goes to <home>/logs/assignments.jsonl, one
// JSON record each, under the athlete's pseudonym.
func TestServeLogsAssignmentsToTheirOwnFile(t *testing.T) {
	trained, args := trainedHome(t)
	home := t.TempDir()
	if err := os.CopyFS(home, os.DirFS(trained)); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, home: home}
	c.must("models", "traffic", "set", "sweat-rate", "--split", "1=100", "--salt", "exp-a",
		"--reason", "assignment log test")

	addr, stop := serveHome(t, home)
	fields := strings.Fields(args)
	athlete := fields[slices.Index(fields, "--athlete")+1]
	rows := timelineRows(t, c.must(append([]string{"replay"}, append(fields,
		"--server", addr, "--output", "jsonl")...)...))
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}

	data, err := os.ReadFile(filepath.Join(home, "logs", "assignments.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), athlete) {
		t.Errorf("the assignment log holds the raw athlete id %q", athlete)
	}
	n := 0
	for line := range strings.Lines(string(data)) {
		var rec struct {
			Msg, Model, Experiment string
			AthleteID              string `json:"athlete_id"`
			Version                int
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if rec.Msg != "traffic assignment" || rec.Model != "sweat-rate" ||
			rec.Version != 1 || rec.Experiment != "exp-a" || rec.AthleteID == "" {
			t.Fatalf("assignment record %q", line)
		}
		n++
	}
	// One assessment per replayed minute, each assigned by the policy.
	if n < len(rows) {
		t.Errorf("%d assignment records for %d assessed minutes", n, len(rows))
	}
}
