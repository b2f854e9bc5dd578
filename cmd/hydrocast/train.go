package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/training"
)

type trainFlags struct {
	opts       training.Options
	reportJSON string
	dryRun     bool
}

func newTrainCommand(g *globals) *cobra.Command {
	f := &trainFlags{opts: training.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the three model families, check them against baselines and publish",
		Long: `Train replays a cohort's sessions through the feature store's windows (the same
code that serves), holds out a share of the athletes, fits the sweat-rate,
thermal-trajectory and anomaly models with gonum, compares each with its physiology
baseline on the held-out athletes, exports it to ONNX, checks ONNX Runtime's outputs
against the Go model's, and publishes the three versions to the registry with model
cards, metrics and lineage.

The same data, options and seed give byte-identical ONNX files and identical metrics.`,
		Example: `  hydrocast simulate --athletes 60 --seed 7 --out var/cohort
  hydrocast train --data var/cohort --publish-alias production`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.opts.Registry == "" {
				f.opts.Registry = g.registry
			}
			if f.opts.Registry == "" {
				f.opts.Registry = filepath.Join(g.home, "registry")
			}
			if f.dryRun {
				f.opts.Registry = ""
			}
			f.opts.CodeVersion = version
			return runTrain(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.opts.Data, "data", "", "cohort folder written by hydrocast simulate "+
		"(required)")
	fl.Uint64Var(&f.opts.Seed, "seed", f.opts.Seed, "seed of the athlete split and fits")
	fl.Float64Var(&f.opts.TestShare, "test-share", f.opts.TestShare,
		"share of athletes held out for evaluation")
	fl.StringVar(&f.opts.PublishAlias, "publish-alias", "", "alias to move to the new "+
		"versions, such as production; empty moves none")
	fl.BoolVar(&f.dryRun, "dry-run", false, "train and evaluate without publishing")
	fl.StringVar(&f.reportJSON, "report", "", "also write the full report as JSON to this file")
	fl.IntVar(&f.opts.Workers, "workers", 0, "athletes replayed at once (0: one per core)")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

func runTrain(ctx context.Context, f *trainFlags, stdout, stderr io.Writer) error {
	if _, err := os.Stat(f.opts.Data); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	began := time.Now()
	var bar *progress
	rep, err := training.Run(ctx, f.opts, func(p training.Progress) {
		if bar == nil {
			bar = newProgress(stderr, p.Total, "training")
		}
		bar.set(p.Done)
	})
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return err
	}
	printReport(stdout, &rep)
	fmt.Fprintf(stdout, "trained in %s\n", time.Since(began).Round(time.Millisecond))
	if f.reportJSON != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return writeFileAtomic(f.reportJSON, data)
	}
	return nil
}

// printReport shows, per family, the held-out metrics against the baseline, the goals
// and the published version.
func printReport(w io.Writer, rep *training.Report) {
	fmt.Fprintf(w, "%d athletes for training, %d held out\n", len(rep.TrainAthletes),
		len(rep.TestAthletes))
	for _, fr := range rep.Families {
		published := "not published"
		if fr.Version > 0 {
			published = fmt.Sprintf("published as version %d", fr.Version)
		}
		fmt.Fprintf(w, "\n%s (%s, %d training rows): %s\n", fr.Family, fr.Algorithm,
			fr.TrainRows, published)
		for _, o := range fr.Evaluation.Outputs {
			fmt.Fprintf(w, "  %-26s MAE %.3f RMSE %.3f  baseline MAE %.3f RMSE %.3f\n",
				o.Name, o.Model.MAE, o.Model.RMSE, o.Baseline.MAE, o.Baseline.RMSE)
		}
		for _, g := range fr.Evaluation.Goals {
			mark := "met   "
			if !g.Met {
				mark = "missed"
			}
			fmt.Fprintf(w, "  goal %s %s: %s\n", mark, g.Name, g.Detail)
		}
	}
}
