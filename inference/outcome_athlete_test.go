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

// A line that is not a label could be anybody's: nothing is removed and the error
// names the line.
func TestDeleteOutcomesRefusesAnUnreadableLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labels.jsonl")
	before := []byte(`{"athlete_id":"gone","sweat_rate_l_per_h":1}` + "\n" +
		`{"athlete":"gone"}` + "\n" + `not json` + "\n")
	if err := os.WriteFile(path, before, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, fn := range []func() (int, error){
		func() (int, error) { return DeleteOutcomes(path, "gone") },
		func() (int, error) { return CountOutcomes(path, "gone") },
		func() (int, error) {
			return ExportOutcomes(path, "gone", filepath.Join(t.TempDir(), "out.jsonl"))
		},
	} {
		n, err := fn()
		if err == nil || !strings.Contains(err.Error(), "line 2") || n != 0 {
			t.Errorf("= %d, %v; want 0 and an error naming line 2", n, err)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Errorf("the file changed:\n%s", after)
	}
}
