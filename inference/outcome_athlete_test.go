package inference

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/evaluation"
)

func label(id string, i int) evaluation.Label {
	start := time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
	return evaluation.Label{AthleteID: id, SessionStart: start,
		SessionEnd: start.Add(time.Hour), SweatRateLPerH: 0.9}
}

// athletesIn returns how many labels of each athlete the file holds.
func athletesIn(t *testing.T, path string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for line := range bytes.Lines(data) {
		var l evaluation.Label
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		n[l.AthleteID]++
	}
	return n
}

// Appends racing a deletion all land, in the file that replaced the old one, and
// none of the deleted athlete's labels is left.
func TestDeleteOutcomesWhileAppending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labels", "labels.jsonl")
	log, err := OpenOutcomeLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i := range 50 {
		for _, id := range []string{"gone", "kept"} {
			if err := log.Append(label(id, i)); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A second log, as a second server would have, appends meanwhile.
	other, err := OpenOutcomeLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const appends = 200
	var wg sync.WaitGroup
	for w, l := range []*OutcomeLog{log, other} {
		wg.Go(func() {
			for i := range appends {
				if err := l.Append(label(fmt.Sprintf("writer-%d", w), i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	removed, err := DeleteOutcomes(path, "gone")
	wg.Wait()
	if err != nil || removed != 50 {
		t.Fatalf("DeleteOutcomes = %d, %v; want 50 removed", removed, err)
	}
	got := athletesIn(t, path)
	want := map[string]int{"kept": 50, "writer-0": appends, "writer-1": appends}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the deletion the file holds %v labels per athlete, want %v", got, want)
	}

	if n, err := DeleteOutcomes(path, "gone"); n != 0 || err != nil {
		t.Errorf("deleting again = %d, %v; want 0, nil", n, err)
	}
	if n, err := DeleteOutcomes(filepath.Join(t.TempDir(), "none.jsonl"), "gone"); n != 0 ||
		err != nil {
		t.Errorf("deleting from a missing file = %d, %v; want 0, nil", n, err)
	}
}

// Other athletes' lines stay byte for byte, CRLF ends and blank lines included; a
// line that is no label goes with the athlete whose id it holds, and stays otherwise.
func TestDeleteOutcomesKeepsOtherLinesAsTheyWere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labels.jsonl")
	gone := []string{
		`{"athlete_id":"gone","sweat_rate_l_per_h":1}` + "\n",
		`{"athlete_id":"gone","sweat_r` + "\n", // cut short, then appended after
	}
	kept := []string{
		`{"athlete_id":"kept","sweat_rate_l_per_h":1.2}` + "\r\n",
		"\n",
		`{"athlete_id":"gone-too-far","sweat_rate_l_per_h":0.8}` + "\n",
		`{"athlete_id":"ke` + "\n", // cut short inside another id
	}
	all := gone[0] + kept[0] + kept[1] + gone[1] + kept[2] + kept[3]
	if err := os.WriteFile(path, []byte(all), 0o640); err != nil {
		t.Fatal(err)
	}
	if n, err := CountOutcomes(path, "gone"); n != 2 || err != nil {
		t.Errorf("CountOutcomes = %d, %v; want 2", n, err)
	}
	n, err := DeleteOutcomes(path, "gone")
	if err != nil || n != 2 {
		t.Fatalf("DeleteOutcomes = %d, %v; want 2", n, err)
	}
	after, _ := os.ReadFile(path)
	if want := strings.Join(kept, ""); string(after) != want {
		t.Errorf("after the deletion the file is\n%q\nwant\n%q", after, want)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o640 {
		t.Errorf("the file's mode became %v, want 0640 kept", info.Mode().Perm())
	}
}

// A crash that cut the last line short does not glue the next label to it.
func TestOutcomeLogStartsALineAfterATornOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labels.jsonl")
	if err := os.WriteFile(path, []byte(`{"athlete_id":"a3","sweat_rat`), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := OpenOutcomeLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if err := log.Append(label("a4", 0)); err != nil {
		t.Fatal(err)
	}
	if n, err := CountOutcomes(path, "a4"); n != 1 || err != nil {
		t.Errorf("a4's labels after the torn line: %d, %v; want 1", n, err)
	}
	if n, err := DeleteOutcomes(path, "a3"); n != 1 || err != nil {
		t.Errorf("deleting a3, whose torn line holds their id: %d, %v; want 1", n, err)
	}
	if got := athletesIn(t, path); fmt.Sprint(got) != "map[a4:1]" {
		t.Errorf("left %v, want a4's label alone", got)
	}
}

// A labels file reached through a symbolic link is rewritten where it lives.
func TestDeleteOutcomesThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(t.TempDir(), "real.jsonl")
	path := filepath.Join(dir, "labels.jsonl")
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	log, err := OpenOutcomeLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i, id := range []string{"gone", "kept", "gone"} {
		if err := log.Append(label(id, i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := DeleteOutcomes(path, "gone"); n != 2 || err != nil {
		t.Fatalf("DeleteOutcomes = %d, %v; want 2", n, err)
	}
	if got := athletesIn(t, real); fmt.Sprint(got) != "map[kept:1]" {
		t.Errorf("the link's target holds %v, want kept's label alone", got)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	if err := log.Append(label("later", 3)); err != nil {
		t.Fatal(err)
	}
	if got := athletesIn(t, real); fmt.Sprint(got) != "map[kept:1 later:1]" {
		t.Errorf("after one more append the target holds %v", got)
	}
}

// An export with no labels left removes the labels file an earlier export wrote.
func TestExportOutcomesRemovesAStaleFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labels.jsonl")
	out := filepath.Join(t.TempDir(), "labels.jsonl")
	line := `{"athlete_id":"a1","sweat_rate_l_per_h":1}` + "\r\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := ExportOutcomes(path, "a1", out); n != 1 || err != nil {
		t.Fatalf("ExportOutcomes = %d, %v", n, err)
	}
	if got, _ := os.ReadFile(out); string(got) != strings.TrimSpace(line)+"\n" {
		t.Errorf("exported %q", got)
	}
	if _, err := DeleteOutcomes(path, "a1"); err != nil {
		t.Fatal(err)
	}
	if n, err := ExportOutcomes(path, "a1", out); n != 0 || err != nil {
		t.Fatalf("ExportOutcomes after the deletion = %d, %v", n, err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the earlier export's file is still there: %v", err)
	}
}
