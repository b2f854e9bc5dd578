package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/auth/audit"
	"github.com/hydrocast/hydrocast/evaluation"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/redisstore"
	"github.com/hydrocast/hydrocast/features/wal"
	"github.com/hydrocast/hydrocast/inference"
)

// forgotten is the athlete the deletion test removes: an id long enough not to turn
// up by chance in compressed bytes.
const forgotten = "athlete-cli-forget-41d7b0"

var t0Import = time.Date(2025, 7, 14, 9, 30, 0, 0, time.UTC)

// runSub runs one of the commands this file tests, with the state folder home, and
// returns its stdout and stderr.
func runSub(t *testing.T, home string, mk func(*globals) *cobra.Command,
	args ...string) (string, string, error) {
	t.Helper()
	cmd := mk(&globals{home: home})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(""))
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// writeFITFile writes a FIT file of n heart-rate readings every 30 s from t0Import.
func writeFITFile(t *testing.T, dir string, n int) string {
	t.Helper()
	rs := make([]features.Reading, n)
	for i := range rs {
		rs[i] = features.NewReading("", "", t0Import.Add(time.Duration(i)*30*time.Second))
		rs[i].Set(features.HeartRate, float64(120+i))
	}
	var buf bytes.Buffer
	if err := importer.WriteFIT(&buf, rs, importer.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "run.fit")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fillOnline puts readings of the athletes, and a rejected one of each, into the
// online store's log under home, with a snapshot midway, as a server would have.
func fillOnline(t *testing.T, home string, athletes ...string) {
	t.Helper()
	d, err := wal.Open(filepath.Join(home, "wal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 40 {
		for _, id := range athletes {
			r := features.NewReading(id, "strap", t0Import.Add(time.Duration(i)*30*time.Second))
			r.Set(features.HeartRate, 130)
			if _, err := d.Ingest(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if i == 20 {
			if err := d.Snapshot(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, id := range athletes {
		bad := features.NewReading(id, "strap", t0Import)
		bad.Set(features.SkinTemp, 80)
		if _, err := d.Ingest(ctx, bad); !errors.Is(err, features.ErrInvalidReading) {
			t.Fatalf("bad reading: %v", err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// filesHolding returns the files under root whose bytes hold s.
func filesHolding(t *testing.T, root, s string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(s)) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestAthleteDeleteLeavesNoTrace(t *testing.T) {
	home := t.TempDir()
	fit := writeFITFile(t, t.TempDir(), 30)
	for _, id := range []string{forgotten, "stays"} {
		if _, _, err := runSub(t, home, newImportCommand, fit, "--athlete", id); err != nil {
			t.Fatalf("import: %v", err)
		}
	}
	fillOnline(t, home, forgotten, "stays")
	// A server that keeps running appends labels, the athlete's among them.
	labels, err := inference.OpenOutcomeLog(labelsPath(home))
	if err != nil {
		t.Fatal(err)
	}
	defer labels.Close()
	appendLabels(t, labels, forgotten, "stays", forgotten)
	holding := filesHolding(t, home, forgotten)
	for _, want := range []string{"offline", "wal", "labels"} {
		if !slices.ContainsFunc(holding, func(p string) bool {
			return strings.Contains(p, want)
		}) {
			t.Fatalf("before deleting, the athlete is in %q; want %s files too", holding, want)
		}
	}

	_, _, err = runSub(t, home, newAthleteCommand, "delete", forgotten)
	if err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("delete without --yes off a terminal: %v, want an error naming --yes", err)
	}
	out, _, err := runSub(t, home, newAthleteCommand, "delete", forgotten, "--yes")
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if !strings.Contains(out, "deleted athlete "+forgotten) ||
		!strings.Contains(out, "removed their 2 labels from") {
		t.Errorf("delete printed %q, want the athlete and their 2 labels named", out)
	}
	if left := filesHolding(t, home, forgotten); len(left) > 0 {
		t.Fatalf("after deletion the athlete is still in %q", left)
	}
	// The deletion is in the data audit trail, under the athlete's pseudonym only.
	auditFile := filepath.Join(home, "audit", "data.jsonl")
	if n, _, err := audit.VerifyFile(auditFile); err != nil || n != 1 {
		t.Errorf("data audit trail: %d records, %v; want the one deletion", n, err)
	}
	if b, _ := os.ReadFile(auditFile); !bytes.Contains(b, []byte(`"event":"athlete.delete"`)) ||
		!bytes.Contains(b, []byte(`"outcome":"ok"`)) {
		t.Errorf("data audit trail lacks the deletion:\n%s", b)
	}

	// The other athlete is whole, online and offline.
	d, err := wal.Open(filepath.Join(home, "wal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if ids, _ := d.Athletes(context.Background()); !slices.Equal(ids, []string{"stays"}) {
		t.Errorf("online store holds %q, want [stays]", ids)
	}
	if n := offlineCount(t, home, "stays"); n != 30 {
		t.Errorf("offline store holds %d readings of the other athlete, want 30", n)
	}
	// The server's log goes on appending, to the new file.
	appendLabels(t, labels, "later")
	if got := labelAthletes(t, home); !slices.Equal(got, []string{"stays", "later"}) {
		t.Errorf("labels file holds labels of %q, want [stays later]", got)
	}
}

// appendLabels appends one label for each athlete, a session an hour apart.
func appendLabels(t *testing.T, log *inference.OutcomeLog, athletes ...string) {
	t.Helper()
	start := time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)
	for i, id := range athletes {
		s := start.Add(time.Duration(i) * time.Hour)
		if err := log.Append(evaluation.Label{AthleteID: id, SessionStart: s,
			SessionEnd: s.Add(45 * time.Minute), SweatRateLPerH: 1.1}); err != nil {
			t.Fatal(err)
		}
	}
}

// labelAthletes returns the athlete of each line of the home's labels file, in order.
func labelAthletes(t *testing.T, home string) []string {
	t.Helper()
	data, err := os.ReadFile(labelsPath(home))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for line := range bytes.Lines(data) {
		var l evaluation.Label
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("labels file line %q: %v", line, err)
		}
		ids = append(ids, l.AthleteID)
	}
	return ids
}

// offlineCount returns how many readings of the athlete the offline store holds.
func offlineCount(t *testing.T, home, athlete string) int {
	t.Helper()
	s, err := offline.Open(filepath.Join(home, "offline"), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range s.Rows(context.Background(),
		offline.Query{Athletes: []string{athlete}}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func TestAthleteCommandsRefuseWhileServerRuns(t *testing.T) {
	home := t.TempDir()
	d, err := wal.Open(filepath.Join(home, "wal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, args := range [][]string{{"delete", "a", "--yes"}, {"export", "a", "--out",
		t.TempDir()}, {"quarantine"}} {
		_, _, err := runSub(t, home, newAthleteCommand, args...)
		if err == nil || !strings.Contains(err.Error(), "stop the server") {
			t.Errorf("athlete %s: %v, want an error saying to stop the server", args[0], err)
		}
	}
}

func TestAthleteExport(t *testing.T) {
	home := t.TempDir()
	fit := writeFITFile(t, t.TempDir(), 30)
	if _, _, err := runSub(t, home, newImportCommand, fit, "--athlete", "a-17"); err != nil {
		t.Fatal(err)
	}
	fillOnline(t, home, "a-17")
	dir := filepath.Join(t.TempDir(), "export")
	out, _, err := runSub(t, home, newAthleteCommand, "export", "a-17", "--out", dir,
		"--format", "jsonl")
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if !strings.Contains(out, "exported 30 readings") {
		t.Errorf("export printed %q", out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "readings.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != 30 {
		t.Errorf("readings.jsonl has %d lines, want 30", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "labels.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("labels.jsonl of an athlete without labels: %v, want no file", err)
	}
	feats, err := os.ReadFile(filepath.Join(dir, "features.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The features are as of the newest online reading, so the heart rate is there.
	if !bytes.Contains(feats, []byte(`"name": "heart_rate_bpm_last"`)) ||
		!bytes.Contains(feats, []byte(`"value": 130`)) {
		t.Errorf("features.json lacks the online heart rate:\n%.600s", feats)
	}

	// With labels, the athlete's own go into labels.jsonl as the server wrote them.
	labels, err := inference.OpenOutcomeLog(labelsPath(home))
	if err != nil {
		t.Fatal(err)
	}
	appendLabels(t, labels, "other", "a-17")
	if err := labels.Close(); err != nil {
		t.Fatal(err)
	}
	out, _, err = runSub(t, home, newAthleteCommand, "export", "a-17", "--out", dir)
	if err != nil || !strings.Contains(out, "1 labels") {
		t.Fatalf("export with labels: %v, printed %q", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "labels.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	all, _ := os.ReadFile(labelsPath(home))
	if lines := slices.Collect(bytes.Lines(all)); len(lines) != 2 ||
		!bytes.Equal(got, lines[1]) {
		t.Errorf("labels.jsonl = %q, want the athlete's line of %q", got, all)
	}

	_, _, err = runSub(t, home, newAthleteCommand, "export", "a-17", "--out", dir,
		"--format", "xml")
	if err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("export --format xml: %v, want an error naming --format", err)
	}
}

func TestAthleteQuarantine(t *testing.T) {
	home := t.TempDir()
	csv := filepath.Join(t.TempDir(), "log.csv")
	writeFile(t, csv, "Time,HR\n2025-07-14 09:30:00,120\n2025-07-14 09:30:30,400\n")
	_, _, err := runSub(t, home, newImportCommand, csv, "--athlete", "a-17", "--map",
		"heart_rate_bpm=HR", "--time-column", "Time", "--time-format", "2006-01-02 15:04:05")
	if err != nil {
		t.Fatal(err)
	}
	fillOnline(t, home, "a-17", "b-2")

	out, _, err := runSub(t, home, newAthleteCommand, "quarantine", "a-17")
	if err != nil {
		t.Fatalf("quarantine: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("quarantine printed %d lines, want a header and two rows:\n%s",
			len(lines), out)
	}
	for _, want := range [][]string{
		{"online", "a-17", "strap", "skin_temp_c", "1"},
		{"offline", "a-17", "csv", "heart_rate_bpm", "1", "2025-07-14T09:30:30Z"},
	} {
		if !slices.ContainsFunc(lines[1:], func(l string) bool {
			return slices.Equal(strings.Fields(l)[:len(want)], want)
		}) {
			t.Errorf("no row starting %q in:\n%s", want, out)
		}
	}
	all, _, err := runSub(t, home, newAthleteCommand, "quarantine")
	if err != nil || !strings.Contains(all, "b-2") {
		t.Errorf("quarantine of everyone: %v\n%s", err, all)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAthleteUnknownIDIsAnError(t *testing.T) {
	home := t.TempDir()
	fit := writeFITFile(t, t.TempDir(), 10)
	if _, _, err := runSub(t, home, newImportCommand, fit, "--athlete", "a-17"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"delete", "a-71", "--yes"},
		{"export", "a-71", "--out", t.TempDir()}} {
		out, _, err := runSub(t, home, newAthleteCommand, args...)
		if err == nil || !strings.Contains(err.Error(), "nothing held") {
			t.Errorf("athlete %s of a mistyped id: %v (printed %q), want an error saying "+
				"nothing is held", args[0], err, out)
		}
	}
	// The athlete that exists is untouched and still exports.
	out, _, err := runSub(t, home, newAthleteCommand, "export", "a-17", "--out",
		t.TempDir())
	if err != nil || !strings.Contains(out, "exported 10 readings") {
		t.Errorf("export a-17 after the refusals: %v, %q", err, out)
	}
}

// TestAthleteDeleteReachesRedis deletes an athlete that only the Redis feature store
// of running servers holds, as a deletion request in a fleet would.
func TestAthleteDeleteReachesRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis: %v", err)
		}
		t.Skipf("Redis at 127.0.0.1:6379 unreachable: %v", err)
	}
	rs, err := redisstore.New(rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("athlete-cmd-%d", time.Now().UnixNano())
	r := features.NewReading(id, "watch", time.Now().Add(-time.Minute))
	r.Set(features.HeartRate, 120)
	if _, err := rs.Ingest(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { athleteRedisAddr = "" })
	home := t.TempDir()
	out, _, err := runSub(t, home, newAthleteCommand, "delete", id, "--yes",
		"--redis-addr", "127.0.0.1:6379")
	if err != nil || !strings.Contains(out, "Redis at 127.0.0.1:6379") {
		t.Fatalf("delete: %v, printed %q", err, out)
	}
	if _, err := rs.Newest(t.Context(), id); !errors.Is(err, features.ErrUnknownAthlete) {
		t.Errorf("after the deletion Redis still knows the athlete: %v", err)
	}
}
