package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	featuresPkg  = "github.com/hydrocast/hydrocast/features"
	inferencePkg = "github.com/hydrocast/hydrocast/inference"
)

func readGoBench(t *testing.T) (*Results, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "go-bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := NewResults()
	return res, res.AddGoBench(f, "go-bench.txt")
}

func TestAddGoBench(t *testing.T) {
	res, err := readGoBench(t)
	if err == nil || !strings.Contains(err.Error(), "missing measurements") {
		t.Errorf("error %v: want the truncated result line reported", err)
	}
	tests := []struct {
		name string
		src  Source
		want []float64
	}{
		{"custom metric, every -count run", Source{Go: featuresPkg, Bench: "StoreIngest",
			Metric: "readings/s"}, []float64{1000000, 800000, 1250000}},
		{"ns/op under the unit go test prints", Source{Go: featuresPkg,
			Bench: "StoreIngest", Metric: "ns/op"}, []float64{1000, 1250, 800}},
		{"sub-benchmark without GOMAXPROCS suffix", Source{Go: inferencePkg,
			Bench: "GRPCIngest/batch=100", Metric: "readings/s"}, []float64{606567, 500000}},
		{"same name in another package", Source{Go: inferencePkg, Bench: "StoreIngest",
			Metric: "readings/s"}, nil},
		{"failed benchmark", Source{Go: inferencePkg, Bench: "Broken",
			Metric: "ns/op"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := res.Samples(&tt.src); !slices.Equal(got, tt.want) {
				t.Errorf("samples %v, want %v", got, tt.want)
			}
		})
	}
	if res.CPU != "Test CPU" {
		t.Errorf("cpu %q, want the one go test printed", res.CPU)
	}
}

func TestParseLoadReport(t *testing.T) {
	real, err := os.ReadFile(filepath.Join("testdata", "ghz-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		data       string
		want       map[string]float64
		wantFailed int64
		wantErr    error
	}{
		{"ghz report", string(real), map[string]float64{"p50": 300000, "p90": 450000,
			"p95": 500000, "p99": 800000, "mean": 400000, "rps": 999.5}, 0, nil},
		{"failed calls by status", `{"count": 10, "rps": 5,
			"statusCodeDistribution": {"OK": 7, "Unavailable": 3},
			"errorDistribution": {"rpc error: code = Unavailable": 3},
			"latencyDistribution": [{"percentage": 99, "latency": 10}]}`,
			map[string]float64{"p99": 10, "rps": 5, "mean": 0}, 3, nil},
		{"failed dials have no status", `{"count": 4, "rps": 1,
			"statusCodeDistribution": {"OK": 2},
			"errorDistribution": {"connection refused": 2},
			"latencyDistribution": [{"percentage": 99, "latency": 10}]}`,
			map[string]float64{"p99": 10, "rps": 1, "mean": 0}, 2, nil},
		{"no requests", `{"count": 0}`, nil, 0, ErrLoadReport},
		{"no percentiles", `{"count": 3, "rps": 1}`, nil, 0, ErrLoadReport},
		{"negative count", `{"count": 3, "rps": 1,
			"statusCodeDistribution": {"Unavailable": -5},
			"latencyDistribution": [{"percentage": 99, "latency": 10}]}`,
			nil, 0, ErrLoadReport},
		{"summary text, not JSON", "Summary:\n  Count: 10\n", nil, 0, ErrLoadReport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, failed, err := parseLoadReport([]byte(tt.data))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			if failed != tt.wantFailed {
				t.Errorf("%d failed, want %d", failed, tt.wantFailed)
			}
		})
	}
}

// writeRound writes a minimal ghz report of one load-test round into dir.
func writeRound(t *testing.T, dir, file string, p99 int, failed int) {
	t.Helper()
	report := `{"count": 100, "rps": 1000,
		"statusCodeDistribution": {"OK": 100, "Unavailable": ` + strconv.Itoa(failed) + `},
		"latencyDistribution": [{"percentage": 99, "latency": ` + strconv.Itoa(p99) + `}]}`
	if err := os.WriteFile(filepath.Join(dir, file), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAddLoadDirPairsRounds(t *testing.T) {
	dir := t.TempDir()
	// Round 2 of the reference is missing: round 3 must not be paired with it.
	writeRound(t, dir, "infer.1.json", 300, 0)
	writeRound(t, dir, "infer.3.json", 900, 0)
	writeRound(t, dir, "infer.10.json", 500, 0)
	writeRound(t, dir, "check.1.json", 100, 0)
	writeRound(t, dir, "check.3.json", 300, 2)
	writeRound(t, dir, "check.10.json", 1000, 0)
	if err := os.WriteFile(filepath.Join(dir, "modelinfer.json"), []byte(`{}`),
		0o644); err != nil {
		t.Fatal(err)
	}
	res := NewResults()
	if err := res.AddLoadDir(dir); err != nil {
		t.Fatalf("a request body beside the rounds must be skipped: %v", err)
	}

	infer := Source{Load: "infer", Metric: "p99"}
	check := Source{Load: "check", Metric: "p99"}
	if got := res.Samples(&infer); !slices.Equal(got, []float64{300, 900, 500}) {
		t.Errorf("samples %v, want rounds 1, 3, 10 in round order", got)
	}
	if got := res.PairedRatios(&infer, &check); !slices.Equal(got, []float64{3, 3, 0.5}) {
		t.Errorf("paired ratios %v, want 3, 3, 0.5", got)
	}
	if res.Failed(&check) != 2 || res.Failed(&infer) != 0 {
		t.Errorf("failed %d and %d, want 2 for check and 0 for infer",
			res.Failed(&check), res.Failed(&infer))
	}
	goSrc := Source{Go: featuresPkg, Bench: "X", Metric: "p99"}
	if got := res.PairedRatios(&infer, &goSrc); got != nil {
		t.Errorf("paired ratios with a Go benchmark %v, want none", got)
	}
}

func FuzzParseLoadReport(f *testing.F) {
	if real, err := os.ReadFile(filepath.Join("testdata", "ghz-report.json")); err == nil {
		f.Add(real)
	}
	f.Add([]byte(`{"count": 1, "latencyDistribution": [{"percentage": 99, "latency": 1}]}`))
	f.Add([]byte(`{"count": -1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, failed, err := parseLoadReport(data)
		if err != nil {
			return
		}
		if _, ok := m["p99"]; !ok {
			t.Errorf("accepted a report without p99: %v", m)
		}
		if failed < 0 {
			t.Errorf("accepted a report with %d failed requests", failed)
		}
	})
}

func FuzzAddGoBench(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "go-bench.txt")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("pkg: p\nBenchmarkX-4 10 5 ns/op 7 x/s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res := NewResults()
		_ = res.AddGoBench(strings.NewReader(string(data)), "fuzz")
		for key, samples := range res.samples {
			if len(samples) == 0 {
				t.Errorf("%s: empty sample list", key)
			}
		}
	})
}

func TestGoBenchRoundsArePaired(t *testing.T) {
	// Two runs of a test binary, as scripts/bench.sh makes them; the second round's
	// machine was twice as slow for both benchmarks.
	const out = `round: 1
pkg: example.com/p
BenchmarkIngest 	 100	 10 ns/op	 1000 x/s
BenchmarkCopy   	 100	 1 ns/op	 10000 x/s
round: 2
pkg: example.com/p
BenchmarkIngest 	 100	 20 ns/op	 500 x/s
BenchmarkCopy   	 100	 2 ns/op	 5000 x/s
round: 3
pkg: example.com/p
BenchmarkCopy   	 100	 2 ns/op	 5000 x/s
`
	res := NewResults()
	if err := res.AddGoBench(strings.NewReader(out), "out"); err != nil {
		t.Fatal(err)
	}
	ingest := Source{Go: "example.com/p", Bench: "Ingest", Metric: "x/s"}
	cp := Source{Go: "example.com/p", Bench: "Copy", Metric: "x/s"}
	if got := res.PairedRatios(&ingest, &cp); !slices.Equal(got, []float64{0.1, 0.1}) {
		t.Errorf("paired ratios %v, want 0.1 in rounds 1 and 2", got)
	}
	load := Source{Load: "check", Metric: "rps"}
	if got := res.PairedRatios(&ingest, &load); got != nil {
		t.Errorf("a benchmark paired with a load test: %v", got)
	}
}
