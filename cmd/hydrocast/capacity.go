package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/deploy/capacity"
)

type capacityFlags struct {
	bench    string
	athletes float64
	active   float64
	peak     float64
	format   string
}

func newCapacityCommand(_ *globals) *cobra.Command {
	w := capacity.DefaultWorkload()
	f := &capacityFlags{athletes: w.RegisteredAthletes, active: w.ActiveAthletes,
		peak: w.PeakExercising}
	cmd := &cobra.Command{
		Use:   "capacity",
		Short: "Size and price a deployment from measured benchmark figures",
		Long: `Capacity turns the figures ` + "`make bench`" + ` measured into a plan for a given
load: serving and ingest cores and replicas at the peak and on average, Redis memory and
traffic, storage and Pub/Sub volume, the month's cost by line at Google Cloud list
prices (us-central1, read on ` + capacity.ListPrices().AsOf + `), and the cost per
registered athlete-month against the business plan's $0.01-0.05.

--bench reads either the report ` + "`make bench`" + ` writes (var/bench/bench.json), whose
figures replace the baseline's where it measures them, or a file of the model's flat
schema (deploy/capacity/testdata/bench.json) naming every figure. The report says
which figure came from where. docs/capacity.md explains the model and its prices.`,
		Example: `  hydrocast capacity --bench var/bench/bench.json
  hydrocast capacity --bench var/bench/bench.json --athletes 5e6 --active 1e6 --peak 1e5
  hydrocast capacity --bench deploy/capacity/testdata/bench.json --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCapacity(f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.bench, "bench", "", "bench figures: make bench's bench.json or the "+
		"model's flat schema (required)")
	fl.Float64Var(&f.athletes, "athletes", f.athletes, "registered athletes; the cost "+
		"per athlete-month divides by them")
	fl.Float64Var(&f.active, "active", f.active, "athletes recording at least one "+
		"workout a month")
	fl.Float64Var(&f.peak, "peak", f.peak, "athletes exercising at the busiest moment")
	fl.StringVar(&f.format, "format", "table", "output: table or json")
	return cmd
}

func runCapacity(f *capacityFlags, out io.Writer) error {
	w, err := f.workload()
	if err != nil {
		return err
	}
	if f.format != "table" && f.format != "json" {
		return fmt.Errorf("--format %q: want table or json", f.format)
	}
	if f.bench == "" {
		return fmt.Errorf("--bench is required: the bench.json that make bench wrote")
	}
	file, err := os.Open(f.bench)
	if err != nil {
		return fmt.Errorf("--bench: %w", err)
	}
	defer file.Close()
	bench, sources, err := capacity.ReadBenchFile(file, capacity.Baseline())
	if err != nil {
		return fmt.Errorf("--bench %s: %w", f.bench, err)
	}

	prices := capacity.ListPrices()
	plan, err := capacity.Estimate(bench, w, capacity.DefaultPolicy(), prices)
	if err != nil {
		return err
	}
	if f.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(capacity.Summarize(bench, sources, w, prices, plan))
	}
	if err := capacity.WriteReport(out, plan, w, prices); err != nil {
		return err
	}
	return capacity.WriteSources(out, bench, sources)
}

// workload is the default workload with the flags' athlete counts, which must shrink
// from registered to active to exercising.
func (f *capacityFlags) workload() (capacity.Workload, error) {
	for _, c := range []struct {
		flag  string
		value float64
	}{{"--athletes", f.athletes}, {"--active", f.active}, {"--peak", f.peak}} {
		if !(c.value > 0) || c.value > 1e12 {
			return capacity.Workload{}, fmt.Errorf("%s %v: want a positive count up to 1e12",
				c.flag, c.value)
		}
	}
	if f.active > f.athletes {
		return capacity.Workload{}, fmt.Errorf("--active %v exceeds --athletes %v",
			f.active, f.athletes)
	}
	if f.peak > f.active {
		return capacity.Workload{}, fmt.Errorf("--peak %v exceeds --active %v",
			f.peak, f.active)
	}
	w := capacity.DefaultWorkload()
	w.RegisteredAthletes, w.ActiveAthletes, w.PeakExercising = f.athletes, f.active, f.peak
	return w, nil
}
