package capacity

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestReadBenchFileReport(t *testing.T) {
	f, err := os.Open("testdata/bench-report.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, sources, err := ReadBenchFile(f, Baseline())
	if err != nil {
		t.Fatal(err)
	}

	// The two figures the report measures replace the baseline's; the rest stay.
	want := Baseline()
	want.AssessP99Seconds = 6.33e-3
	want.RedisBytesPerAthlete = 6554
	want.MeasuredOn = b.MeasuredOn
	if b != want {
		t.Errorf("figures %+v\nwant %+v", b, want)
	}
	if !strings.Contains(b.MeasuredOn, "2026-12-03T15:25:20Z") {
		t.Errorf("measured on %q does not name the run", b.MeasuredOn)
	}
	from := make(map[string]Source)
	for _, s := range sources {
		from[s.Field] = s
	}
	if len(from) != 8 {
		t.Errorf("%d sources, want one per figure: %+v", len(from), sources)
	}
	for field, wantFrom := range map[string]string{
		"assess_p99_seconds":              FromBench,
		"redis_bytes_per_athlete":         FromBench,
		"assess_per_core_second":          FromBaseline,
		"ingest_readings_per_core_second": FromBaseline,
	} {
		if from[field].From != wantFrom {
			t.Errorf("%s from %+v, want %s", field, from[field], wantFrom)
		}
	}
}

func TestReadBenchFileFlat(t *testing.T) {
	f, err := os.Open("testdata/bench.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, sources, err := ReadBenchFile(f, Bench{})
	if err != nil {
		t.Fatal(err)
	}
	if b.AssessPerCoreSecond != 500 || b.PubSubBytesPerReading != 1150 {
		t.Errorf("figures %+v", b)
	}
	for _, s := range sources {
		if s.From != FromBench {
			t.Errorf("flat file: %s from %s", s.Field, s.From)
		}
	}
}

func TestReadBenchFileRefuses(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"not JSON", `figures`, "decode"},
		{"array", `[{"figures": []}]`, "decode"},
		{"figures not a list", `{"figures": 3}`, "decode bench report"},
		{"wrong unit", `{"figures": [{"figure": "Assess p99, 1000 req/s", "unit": "ms",
			"measured": 6}]}`, `unit "ms", want "ns"`},
		{"negative", `{"figures": [{"figure": "memory per active athlete (1 h)",
			"unit": "B", "measured": -1}]}`, "must be positive"},
		{"twice", `{"figures": [{"figure": "a", "unit": "B"}, {"figure": "a"}]}`,
			"appears twice"},
		{"flat with a missing figure", `{"assess_per_core_second": 1}`, "must be positive"},
		{"implausibly slow ingest", `{"ingest_readings_per_core_second": 1e-300,
			"assess_per_core_second": 500, "assess_p99_seconds": 0.1,
			"redis_bytes_per_athlete": 6552, "parquet_bytes_per_reading": 22,
			"bigquery_bytes_per_reading": 72, "pubsub_bytes_per_reading": 1150,
			"training_core_seconds_per_million_rows": 2800}`,
			"ingest_readings_per_core_second = 1e-300"},
		{"implausibly large Redis entry", `{"ingest_readings_per_core_second": 2200,
			"assess_per_core_second": 500, "assess_p99_seconds": 0.1,
			"redis_bytes_per_athlete": 1e308, "parquet_bytes_per_reading": 22,
			"bigquery_bytes_per_reading": 72, "pubsub_bytes_per_reading": 1150,
			"training_core_seconds_per_million_rows": 2800}`, "plausible range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ReadBenchFile(strings.NewReader(c.data), Baseline())
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrInvalid naming %q", err, c.want)
			}
		})
	}
}

// FuzzReadBenchFile feeds arbitrary bytes to the reader of both forms: it must refuse
// them with ErrInvalid or return figures that validate, with one source per figure.
func FuzzReadBenchFile(f *testing.F) {
	for _, path := range []string{"testdata/bench.json", "testdata/bench-report.json"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"figures": null}`))
	f.Add([]byte(`{"figures": [{"figure": "Assess p99, 1000 req/s", "unit": "ns",
		"measured": 1e400}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, sources, err := ReadBenchFile(bytes.NewReader(data), Baseline())
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("accepted figures do not validate: %v", err)
		}
		if len(sources) != 8 {
			t.Fatalf("%d sources, want 8", len(sources))
		}
	})
}
