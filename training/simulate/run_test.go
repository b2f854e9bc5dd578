package simulate

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// smallOptions is a cohort small enough to write in a test: 8 athletes, 3 sessions
// each over 5 days, so that days hold several athletes.
func smallOptions(t *testing.T) Options {
	o := DefaultOptions()
	o.Out = t.TempDir()
	o.Athletes, o.SessionsPerAthlete, o.Days, o.FITSessions = 8, 3, 5, 2
	o.FaultsPerHour = 4
	return o
}

// readTree returns every file under dir by slash-separated relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunIsDeterministic(t *testing.T) {
	serial := smallOptions(t)
	serial.Workers = 1
	parallel := smallOptions(t)
	parallel.Workers = 4
	for _, o := range []Options{serial, parallel} {
		if _, err := Run(context.Background(), o, nil); err != nil {
			t.Fatal(err)
		}
	}

	a, b := readTree(t, serial.Out), readTree(t, parallel.Out)
	if len(a) != len(b) {
		t.Fatalf("%d files against %d", len(a), len(b))
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs between runs", name)
		}
	}

	other := smallOptions(t)
	other.Seed = serial.Seed + 1
	if _, err := Run(context.Background(), other, nil); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[athletesFile], readTree(t, other.Out)[athletesFile]) {
		t.Error("another seed gave the same athletes")
	}
}

func TestRunLayout(t *testing.T) {
	o := smallOptions(t)
	var calls, last int
	sum, err := Run(context.Background(), o, func(done, total int) {
		calls++
		if done != last+1 || total != 24 {
			t.Errorf("progress(%d, %d) after %d", done, total, last)
		}
		last = done
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 24 || sum.Counts.Sessions != 24 || sum.Counts.Athletes != 8 ||
		sum.Counts.FITFiles != 2 {
		t.Errorf("%d progress calls, counts %+v", calls, sum.Counts)
	}

	files := readTree(t, o.Out)
	for _, want := range []string{manifestFile, athletesFile, sessionsFile, faultsFile,
		"fit/sim00001-1.fit", "fit/sim00001-2.fit"} {
		if files[want] == nil {
			t.Errorf("no %s", want)
		}
	}
	partitions := 0
	for name := range files {
		if matched, _ := filepath.Match("readings/date=2025-06-0?/part-0.parquet",
			name); matched {
			partitions++
		}
	}
	if partitions == 0 || partitions > 5 || len(sum.Files) != len(files)-1 {
		t.Errorf("%d reading partitions, %d files listed of %d", partitions,
			len(sum.Files), len(files))
	}
}

func TestRunRejects(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "old.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(o *Options)
		want   error
	}{
		{"no output folder", func(o *Options) { o.Out = "" }, ErrInvalidOptions},
		{"no athletes", func(o *Options) { o.Athletes = 0 }, ErrInvalidOptions},
		{"more sessions than days", func(o *Options) { o.SessionsPerAthlete = 6 },
			ErrInvalidOptions},
		{"negative faults", func(o *Options) { o.FaultsPerHour = -1 }, ErrInvalidOptions},
		{"folder in use", func(o *Options) { o.Out = full }, ErrOutNotEmpty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := smallOptions(t)
			c.change(&o)
			if _, err := Run(context.Background(), o, nil); !errors.Is(err, c.want) {
				t.Errorf("Run: %v, want %v", err, c.want)
			}
		})
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	o := smallOptions(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Run(ctx, o, func(done, total int) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(o.Out, manifestFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a cancelled run left a manifest: %v", err)
	}
}

func TestDefaultOptionsFillZeros(t *testing.T) {
	o, err := Options{Out: "x", Athletes: 1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultOptions()
	if o.SessionsPerAthlete != want.SessionsPerAthlete || o.Days != want.Days ||
		!o.Start.Equal(want.Start) || o.FaultsPerHour != 0 || o.FITSessions != 0 {
		t.Errorf("zero options became %+v", o)
	}

	late := time.Date(2026, 1, 5, 17, 30, 0, 0, time.FixedZone("x", 3600))
	o, _ = Options{Out: "x", Athletes: 1, Start: late}.withDefaults()
	if want := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC); !o.Start.Equal(want) {
		t.Errorf("start %v, want %v", o.Start, want)
	}
}
