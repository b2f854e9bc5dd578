package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/deploy/capacity"
)

// runCapacityCommand runs `hydrocast capacity` with args and returns its stdout.
func runCapacityCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newCapacityCommand(&globals{})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

const benchReport = "../../deploy/capacity/testdata/bench-report.json"

func TestCapacityJSON(t *testing.T) {
	out, err := runCapacityCommand(t, "--bench", benchReport, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var s capacity.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("output is not the JSON summary: %v\n%s", err, out)
	}

	// The load: 1 M exercising, an assessment a minute, so 16,667 assessments/s;
	// at 60 % of the baseline's 500 a core that is 55.6 cores, 28 replicas of 2.
	p := s.Plan
	if math.Abs(p.PeakAssessmentsPerSecond-1e6/60) > 1e-6 || p.ServeReplicasPeak != 28 {
		t.Errorf("peak %.1f assessments/s on %d replicas, want 16666.7 on 28",
			p.PeakAssessmentsPerSecond, p.ServeReplicasPeak)
	}
	// 33,333 readings/s at 60 % of 2,200 a core: 25.3 cores, 26 replicas of 1.
	if p.IngestReplicasPeak != 26 {
		t.Errorf("%d ingest replicas, want 26", p.IngestReplicasPeak)
	}
	// Redis holds 3 M athletes (1 M exercising, 2 M within the 2 h idle TTL) at the
	// report's 6,554 bytes each, filled to 70 %.
	if want := 3e6 * 6554 / 0.7 / (1 << 30); math.Abs(p.RedisGiB-want) > 1e-9 {
		t.Errorf("Redis %.3f GiB, want %.3f", p.RedisGiB, want)
	}
	if got := p.Monthly.Total() / 50e6; math.Abs(p.PerAthleteMonth-got) > 1e-15 {
		t.Errorf("per athlete-month %v, want the total over 50 M: %v", p.PerAthleteMonth, got)
	}
	if s.Prices.AsOf == "" || s.PlanLow != 0.01 || s.PlanHigh != 0.05 ||
		!strings.Contains(s.AgainstPlan, "band") {
		t.Errorf("prices dated %q, band %v-%v %q", s.Prices.AsOf, s.PlanLow, s.PlanHigh,
			s.AgainstPlan)
	}
	if s.Bench.AssessP99Seconds != 6.33e-3 {
		t.Errorf("Assess p99 %v s, want the report's 6.33 ms", s.Bench.AssessP99Seconds)
	}
}

func TestCapacityTableFollowsFlags(t *testing.T) {
	out, err := runCapacityCommand(t, "--bench", benchReport, "--athletes", "5e6",
		"--active", "1e6", "--peak", "1e5")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"athletes exercising  100 k", // the --peak
		"(5 M registered)",
		"business plan",
		"$0.01-0.05",
		"prices: us-central1 list prices read on " + capacity.ListPrices().AsOf,
		"assess_p99_seconds                       bench (Assess p99, 1000 req/s)",
		"assess_per_core_second                   baseline",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCapacityRefusesBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "--bench is required"},
		{[]string{"--bench", benchReport, "--format", "yaml"}, "--format"},
		{[]string{"--bench", benchReport, "--peak", "0"}, "--peak"},
		{[]string{"--bench", benchReport, "--athletes", "NaN"}, "--athletes"},
		{[]string{"--bench", benchReport, "--active", "6e7"}, "--active 6e+07 exceeds"},
		{[]string{"--bench", "no-such-file.json"}, "--bench"},
		{[]string{"--bench", "capacity.go"}, "--bench capacity.go: decode"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := runCapacityCommand(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %q", err, c.want)
			}
		})
	}
}
