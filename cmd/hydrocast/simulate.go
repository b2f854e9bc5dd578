package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/training/simulate"
)

func newSimulateCommand(g *globals) *cobra.Command {
	opts := simulate.DefaultOptions()
	opts.FaultsPerHour = 1
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Write a synthetic cohort of athletes, sessions and readings",
		Long: `Simulate generates a synthetic cohort, honestly labelled as such: athletes with
traits spread like published normative sweat rates, sessions in sampled weather, ISO 7933
Predicted Heat Strain for core temperature and sweat, heart rate through the ECTemp
observation curve, 30-second readings with injected and labelled sensor faults.

It writes the offline-store Parquet schema (readings by date, athletes, sessions, faults),
a few sessions as FIT files and a manifest with checksums. The same options and seed give
byte-identical files. The output folder must be empty or absent.`,
		Example: `  hydrocast simulate --athletes 60 --seed 7 --out var/cohort
  hydrocast train --data var/cohort`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Out == "" {
				opts.Out = filepath.Join(g.home, "cohort")
			}
			return runSimulate(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Athletes, "athletes", opts.Athletes, "number of athletes")
	fl.IntVar(&opts.SessionsPerAthlete, "sessions", opts.SessionsPerAthlete,
		"sessions per athlete")
	fl.Uint64Var(&opts.Seed, "seed", opts.Seed, "random seed; the same seed gives the "+
		"same cohort")
	fl.StringVar(&opts.Out, "out", "", "output folder (default <home>/cohort)")
	fl.Float64Var(&opts.FaultsPerHour, "faults-per-hour", opts.FaultsPerHour,
		"mean number of injected sensor faults per session hour")
	fl.IntVar(&opts.FITSessions, "fit-files", opts.FITSessions,
		"number of sessions also written as FIT files")
	fl.IntVar(&opts.Workers, "workers", 0, "sessions simulated at once (0: one per core)")
	return cmd
}

func runSimulate(ctx context.Context, opts simulate.Options, stdout, stderr io.Writer) error {
	bar := newProgress(stderr, opts.Athletes*max(opts.SessionsPerAthlete, 1),
		"simulating sessions")
	began := time.Now()
	sum, err := simulate.Run(ctx, opts, func(done, _ int) { bar.set(done) })
	bar.finish()
	if err != nil {
		return err
	}
	c := sum.Counts
	fmt.Fprintf(stdout, "wrote %s in %s: %d athletes, %d sessions, %d readings, "+
		"%d labelled faults\n", sum.Dir, time.Since(began).Round(time.Millisecond),
		c.Athletes, c.Sessions, c.Readings, c.Faults)
	s := sum.MeasuredSweatRate
	fmt.Fprintf(stdout, "measured sweat rate %.2f ± %.2f L/h (%.2f–%.2f); "+
		"published: 1.21 ± 0.68 L/h (Baker 2016)\n", s.Mean, s.SD, s.Min, s.Max)
	return printSampleWorkouts(sum.Dir, stdout)
}

// printSampleWorkouts lists the FIT files with the weather of their sessions, which
// the files cannot carry, as ready-to-run replay commands.
func printSampleWorkouts(dir string, w io.Writer) error {
	cohort, err := simulate.LoadCohort(dir)
	if err != nil {
		return err
	}
	first := true
	for _, s := range cohort.Sessions {
		path := filepath.Join(dir, "fit", s.ID+".fit")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if first {
			fmt.Fprintln(w, "sample workouts (FIT files carry no weather; pass it along):")
			first = false
		}
		fmt.Fprintf(w, "  %s, %.0f min, %.1f °C, %.0f %% humidity:\n    hydrocast replay %s "+
			"--athlete %s --ambient-temp-c %.1f --humidity-pct %.0f\n",
			strings.ReplaceAll(string(s.Sport), "_", " "), s.End.Sub(s.Start).Minutes(),
			s.MeanAmbientC, s.MeanHumidityPct, path, s.AthleteID, s.MeanAmbientC,
			s.MeanHumidityPct)
	}
	return nil
}
