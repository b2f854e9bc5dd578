package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// ErrLoadReport means a load-test report is not a ghz JSON report.
var ErrLoadReport = errors.New("invalid load report")

// Results holds the samples of one run: each Go benchmark run (-count) or load-test
// round adds one sample to each of its metrics.
type Results struct {
	// samples holds the values by Source.key, load-test rounds in round order.
	samples map[string][]sample
	// failed counts the failed requests of each load test, by name.
	failed map[string]int64
	// short lists, by load test, the rounds whose rate fell short of the one asked.
	short map[string][]shortRound
	// CPU is the processor go test reported, if any.
	CPU string
}

// NewResults returns empty results.
func NewResults() *Results {
	return &Results{samples: make(map[string][]sample), failed: make(map[string]int64),
		short: make(map[string][]shortRound)}
}

// shortRound is a fixed-rate load-test round that completed fewer requests per second
// than it was asked to send: the server, or the machine, could not keep up.
type shortRound struct {
	round          int
	rps, targetRPS float64
}

// heldRate is the share of the asked rate a round must reach to count as held.
const heldRate = 0.95

// sample is one measured value. Benchmarks and load tests run in rounds, each round
// measuring every benchmark or load test once, so that values of the same round were
// measured close in time.
type sample struct {
	round int // -1 when the input did not say
	value float64
}

// Samples returns the values measured for src, or nil.
func (r *Results) Samples(src *Source) []float64 {
	var vs []float64
	for _, s := range r.samples[src.key()] {
		vs = append(vs, s.value)
	}
	return vs
}

// PairedRatios returns a/b round by round for the rounds both have, or nil when the
// two are not of the same kind (Go benchmark or load test) or have no rounds: the
// ratio of values measured close in time is steadier than the ratio of their medians
// on a busy machine.
func (r *Results) PairedRatios(a, b *Source) []float64 {
	if (a.Load == "") != (b.Load == "") {
		return nil
	}
	byRound := make(map[int]float64)
	for _, s := range r.samples[b.key()] {
		if s.round >= 0 {
			byRound[s.round] = s.value
		}
	}
	var out []float64
	for _, s := range r.samples[a.key()] {
		if ref, ok := byRound[s.round]; ok && ref != 0 {
			out = append(out, s.value/ref)
		}
	}
	return out
}

// Failed returns how many requests of the source's load test failed.
func (r *Results) Failed(src *Source) int64 { return r.failed[src.Load] }

// ShortRounds returns the rounds of the source's load test that did not hold the
// asked rate.
func (r *Results) ShortRounds(src *Source) []shortRound { return r.short[src.Load] }

// AddGoBench adds every result of `go test -bench` output read from in; name names
// the input in errors. Lines that are not benchmark results are skipped; malformed
// result lines are returned as errors after the rest was read.
func (r *Results) AddGoBench(in io.Reader, name string) error {
	var errs []error
	rd := benchfmt.NewReader(in, name)
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			errs = append(errs, rec)
		case *benchfmt.Result:
			r.addGoResult(rec)
		}
	}
	if err := rd.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read %s: %w", name, err))
	}
	return errors.Join(errs...)
}

func (r *Results) addGoResult(res *benchfmt.Result) {
	if r.CPU == "" {
		r.CPU = res.GetConfig("cpu")
	}
	src := Source{Go: res.GetConfig("pkg"), Bench: benchName(res.Name)}
	// scripts/bench.sh marks each run of a test binary with "round: N".
	round, err := strconv.Atoi(res.GetConfig("round"))
	if err != nil || round < 0 {
		round = -1
	}
	for _, v := range res.Values {
		// The reader converts units such as ns/op to sec/op; the spec uses the units
		// go test prints.
		val := v.Value
		src.Metric = v.Unit
		if v.OrigUnit != "" {
			src.Metric, val = v.OrigUnit, v.OrigValue
		}
		r.samples[src.key()] = append(r.samples[src.key()], sample{round, val})
	}
}

// benchName returns the name without its GOMAXPROCS suffix, which depends on the
// machine rather than on the benchmark.
func benchName(n benchfmt.Name) string {
	base, parts := n.Parts()
	var b strings.Builder
	b.Write(base)
	for _, p := range parts {
		if len(p) > 0 && p[0] == '-' {
			continue
		}
		b.Write(p)
	}
	return b.String()
}

// loadReport is the part of a ghz JSON report (-O json) the table uses. Latencies
// are in nanoseconds.
type loadReport struct {
	Options struct {
		RPS float64 `json:"rps"` // the rate asked for; 0 means as fast as possible
	} `json:"options"`
	Count   int64            `json:"count"`
	Average int64            `json:"average"`
	RPS     float64          `json:"rps"`
	Errors  map[string]int64 `json:"errorDistribution"`
	Codes   map[string]int64 `json:"statusCodeDistribution"`
	Latency []struct {
		Percentage float64 `json:"percentage"`
		Latency    int64   `json:"latency"`
	} `json:"latencyDistribution"`
}

// loadMetrics are the metrics a load-test source may name.
var loadMetrics = map[string]bool{
	"p50": true, "p90": true, "p95": true, "p99": true, "mean": true, "rps": true,
}

// parseLoadReport decodes a ghz JSON report into its metrics and the number of
// failed requests.
func parseLoadReport(data []byte) (map[string]float64, int64, error) {
	var rep loadReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrLoadReport, err)
	}
	if rep.Count <= 0 {
		return nil, 0, fmt.Errorf("%w: no requests counted", ErrLoadReport)
	}
	m := map[string]float64{"rps": rep.RPS, "mean": float64(rep.Average),
		"target_rps": rep.Options.RPS}
	for _, l := range rep.Latency {
		switch l.Percentage {
		case 50, 90, 95, 99:
			m["p"+strconv.Itoa(int(l.Percentage))] = float64(l.Latency)
		}
	}
	if _, ok := m["p99"]; !ok {
		return nil, 0, fmt.Errorf("%w: no 99th percentile latency", ErrLoadReport)
	}

	// ghz counts a failed call under its status code and its error message; a call
	// that failed before it had a status appears under the message only.
	var nonOK, errs int64
	for code, n := range rep.Codes {
		if n < 0 || n > rep.Count {
			return nil, 0, fmt.Errorf("%w: %d of %d calls with status %s", ErrLoadReport,
				n, rep.Count, code)
		}
		if code != "OK" {
			nonOK = addCapped(nonOK, n, rep.Count)
		}
	}
	for msg, n := range rep.Errors {
		if n < 0 || n > rep.Count {
			return nil, 0, fmt.Errorf("%w: %d of %d calls failed with %q", ErrLoadReport,
				n, rep.Count, msg)
		}
		errs = addCapped(errs, n, rep.Count)
	}
	return m, max(nonOK, errs), nil
}

// addCapped returns a+b, or limit when that is more; a and b are in [0, limit].
// Failed calls cannot outnumber calls, whatever a damaged report says.
func addCapped(a, b, limit int64) int64 {
	if b > limit-a {
		return limit
	}
	return a + b
}

// AddLoadDir adds the ghz reports in dir, named <load test>.<round>.json with a
// numeric round. A missing folder adds nothing.
func (r *Results) AddLoadDir(dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return fmt.Errorf("list load reports: %w", err)
	}
	type round struct {
		name string
		n    int
		path string
	}
	var rounds []round
	for _, p := range paths {
		name, num, ok := strings.Cut(strings.TrimSuffix(filepath.Base(p), ".json"), ".")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			continue // not a round, such as a request body
		}
		rounds = append(rounds, round{name, n, p})
	}
	sort.Slice(rounds, func(i, j int) bool {
		if rounds[i].name != rounds[j].name {
			return rounds[i].name < rounds[j].name
		}
		return rounds[i].n < rounds[j].n
	})

	var errs []error
	for _, rd := range rounds {
		data, err := os.ReadFile(rd.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("read load report: %w", err))
			continue
		}
		m, failed, err := parseLoadReport(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(rd.path), err))
			continue
		}
		if target := m["target_rps"]; target > 0 && m["rps"] < heldRate*target {
			r.short[rd.name] = append(r.short[rd.name], shortRound{rd.n, m["rps"], target})
		}
		delete(m, "target_rps")
		for metric, v := range m {
			src := Source{Load: rd.name, Metric: metric}
			r.samples[src.key()] = append(r.samples[src.key()], sample{rd.n, v})
		}
		r.failed[rd.name] += failed
	}
	return errors.Join(errs...)
}
