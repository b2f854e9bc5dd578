package simulate

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
)

// sameReading compares two readings, NaN equal to NaN.
func sameReading(a, b features.Reading) bool {
	if a.AthleteID != b.AthleteID || a.Source != b.Source || !a.Time.Equal(b.Time) {
		return false
	}
	for s := range a.Values {
		x, y := a.Values[s], b.Values[s]
		if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
			return false
		}
	}
	return true
}

func TestLoadCohortRoundTrip(t *testing.T) {
	o := smallOptions(t)
	if _, err := Run(context.Background(), o, nil); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCohort(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	athletes, results := simulateAll(t, o)

	var sessions []Session
	var faults []Fault
	var readings []features.Reading
	for _, res := range results {
		sessions = append(sessions, res.session)
		faults = append(faults, res.faults...)
		readings = append(readings, res.readings...)
	}
	slices.SortFunc(faults, compareFaults)

	if !reflect.DeepEqual(c.Athletes, athletes) {
		t.Error("athletes read back differ from those generated")
	}
	if !reflect.DeepEqual(c.Sessions, sessions) {
		t.Error("sessions read back differ from those generated")
	}
	if !reflect.DeepEqual(c.Faults, faults) || len(faults) == 0 {
		t.Errorf("%d faults read back, %d generated, or they differ", len(c.Faults),
			len(faults))
	}

	// Sessions come in athlete order and readings within them in time order, so the
	// generated readings are already in the iterator's order.
	n := 0
	for r, err := range c.Readings(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if n >= len(readings) || !sameReading(r, readings[n]) {
			t.Fatalf("reading %d read back as %+v", n, r)
		}
		n++
	}
	if n != len(readings) || n != c.Manifest.Counts.Readings {
		t.Errorf("%d readings read back, %d generated, manifest says %d", n, len(readings),
			c.Manifest.Counts.Readings)
	}
	if err := c.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestFITFilesHoldTheWatchReadings(t *testing.T) {
	o := smallOptions(t)
	if _, err := Run(context.Background(), o, nil); err != nil {
		t.Fatal(err)
	}
	_, results := simulateAll(t, o)
	watch := watchOf(results[0].readings)

	f, err := os.Open(filepath.Join(o.Out, fitDir, results[0].session.ID+".fit"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := importer.DecodeFIT(f, importer.Options{AthleteID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Readings) != len(watch) {
		t.Fatalf("%d FIT records, %d watch readings", len(res.Readings), len(watch))
	}
	for i, got := range res.Readings {
		want := watch[i]
		hr, _ := got.Get(features.HeartRate)
		if !got.Time.Equal(want.Time) ||
			!(hr == want.Values[features.HeartRate] || !want.Has(features.HeartRate)) {
			t.Fatalf("record %d: %v %v bpm, want %v %v bpm", i, got.Time, hr, want.Time,
				want.Values[features.HeartRate])
		}
	}
}

func TestLoadCohortRejects(t *testing.T) {
	o := smallOptions(t)
	if _, err := Run(context.Background(), o, nil); err != nil {
		t.Fatal(err)
	}
	files := readTree(t, o.Out)

	cases := []struct {
		name    string
		replace map[string][]byte // files to overwrite in a copy of the cohort
		want    error
	}{
		{"no manifest", map[string][]byte{manifestFile: nil}, ErrNotCohort},
		{"other generator", map[string][]byte{manifestFile: bytes.Replace(
			files[manifestFile], []byte(GeneratorVersion), []byte("elsewhere/9"), 1)},
			ErrGeneratorVersion},
		{"table without its columns", map[string][]byte{athletesFile: files[faultsFile]},
			ErrNotCohort},
		{"garbage table", map[string][]byte{sessionsFile: []byte("PAR1 not parquet")},
			ErrNotCohort},
		{"truncated table", map[string][]byte{faultsFile: files[faultsFile][:100]},
			ErrNotCohort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range files {
				if repl, ok := c.replace[name]; ok {
					if repl == nil {
						continue
					}
					data = repl
				}
				path := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := LoadCohort(dir); !errors.Is(err, c.want) {
				t.Errorf("LoadCohort: %v, want %v", err, c.want)
			}
		})
	}
}

func TestVerifyFindsChangedFile(t *testing.T) {
	o := smallOptions(t)
	if _, err := Run(context.Background(), o, nil); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCohort(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	var partition string
	for _, f := range c.Manifest.Files {
		if strings.HasPrefix(f.Path, readingsDir+"/") {
			partition = filepath.Join(o.Out, filepath.FromSlash(f.Path))
			break
		}
	}
	data, err := os.ReadFile(partition)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(partition, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(); !errors.Is(err, ErrChecksum) {
		t.Errorf("Verify: %v, want ErrChecksum", err)
	}
}

// FuzzDecodeReadings feeds arbitrary bytes to the readings decoder, which reads
// cohort folders that may hold anything: it must return an error, never panic.
func FuzzDecodeReadings(f *testing.F) {
	_, results := simulateAll(f, Options{Athletes: 1, SessionsPerAthlete: 1, Days: 1})
	rows := results[0].readings[:8]
	var buf bytes.Buffer
	if err := writeTable(&buf, readingColumns(rows), len(rows), nil); err != nil {
		f.Fatal(err)
	}
	valid := buf.Bytes()
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(valid[len(valid)/3:])
	f.Add([]byte("PAR1PAR1"))

	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := openBatches(context.Background(), bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrNotCohort) {
				t.Fatalf("error %v does not wrap ErrNotCohort", err)
			}
			return
		}
		defer b.close()
		for rec := b.next(); rec != nil; rec = b.next() {
			v := &view{rec: rec}
			decodeReadings(v)
		}
	})
}
