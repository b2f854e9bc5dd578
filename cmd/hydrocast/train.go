package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/training"
)

type trainFlags struct {
	opts       training.Options
	config     string
	gates      []string
	families   []string
	reportJSON string
	record     string
	dryRun     bool
	on         string
	vertex     vertexFlags
	// trainingSet is a training-set Parquet file or folder (hydrocast trainingset).
	trainingSet string
}

// errRefused means at least one candidate was refused by its publication gates.
var errRefused = errors.New("candidate refused by the publication gates")

func newTrainCommand(g *globals) *cobra.Command {
	cmd, _ := trainCommand(g)
	return cmd
}

// trainCommand returns the train command and the flags it fills, which tests read.
func trainCommand(g *globals) (*cobra.Command, *trainFlags) {
	f := &trainFlags{opts: training.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the model families, gate them against baselines and production, publish",
		Long: `Train replays a cohort's sessions through the feature store's windows (the same
code that serves), holds out a share of the athletes, fits the sweat-rate,
thermal-trajectory and anomaly models with gonum, compares each with its physiology
baseline and with the version now in production on the held-out athletes, exports it
to ONNX, checks ONNX Runtime's outputs against the Go model's, and checks the
publication gates. A candidate that passes is published with its model card, metrics,
lineage and a reference profile of its inputs and outputs for drift reports; one that
fails is recorded in the registry as a failed version with the reasons, and the
command exits with status 1.

A job file (--config, YAML) holds the source, labels, families, hyperparameters,
split, seed, gates and publish settings; flags given on the command line override it.
An unknown key in the file is an error. See docs/training.md.

Every run writes a run record (JSON) with the fingerprints of its data, config, code
and seed, the models' digests, metrics, gates and decisions, to <home>/runs/ or
--record. The same data, config and seed give byte-identical ONNX files and
identical metrics.

With --on vertex the same job runs as a Vertex AI custom job on hydrocast's container
image (--vertex-image), the job file passed along, the run record written to
--vertex-output. With --vertex-mirror-artifacts each published version is also
registered in the Vertex AI Model Registry.`,
		Example: `  hydrocast simulate --athletes 60 --seed 7 --out var/cohort
  hydrocast train --data var/cohort --publish-alias production
  hydrocast train --config deploy/jobs/nightly.yaml
  hydrocast train --config deploy/jobs/nightly.yaml --seed 9 --gate 'mae_vs_baseline < 0.9'
  hydrocast train --config deploy/jobs/bigquery.yaml --on vertex \
    --vertex-project hydro-prod --vertex-region europe-west4 \
    --vertex-image europe-docker.pkg.dev/hydro-prod/images/hydrocast:1.4 \
    --vertex-output gs://hydro-runs/nightly`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.resolve(cmd, g); err != nil {
				return err
			}
			if f.on == "vertex" {
				return submitVertex(cmd.Context(), cmd, f, g, cmd.OutOrStdout())
			}
			return runTrain(cmd.Context(), f, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "job file (YAML); flags override its settings")
	fl.StringVar(&f.opts.Data, "data", "", "cohort folder written by hydrocast simulate "+
		"(required unless --trainingset or the job file names a source)")
	fl.StringVar(&f.trainingSet, "trainingset", "", "training-set Parquet file or folder "+
		"written by hydrocast trainingset, instead of --data")
	fl.Uint64Var(&f.opts.Seed, "seed", f.opts.Seed, "seed of the athlete split and fits")
	fl.Float64Var(&f.opts.TestShare, "test-share", f.opts.TestShare,
		"share of athletes held out for evaluation")
	fl.StringSliceVar(&f.families, "family", nil, "families to train (repeat or "+
		"comma-separate): sweat-rate, thermal-trajectory, anomaly; default all")
	fl.StringArrayVar(&f.gates, "gate", nil, "publication gate such as "+
		"'mae_vs_production <= 1.02' (repeatable; replaces the job file's gates)")
	fl.StringVar(&f.opts.PublishAlias, "publish-alias", "", "alias to move to the new "+
		"versions, such as production; empty moves none")
	fl.BoolVar(&f.dryRun, "dry-run", false, "train, evaluate and gate without publishing")
	fl.StringVar(&f.reportJSON, "report", "", "also write the full report as JSON to this file")
	fl.StringVar(&f.record, "record", "", "write the run record here "+
		"(default <home>/runs/<run id>.json)")
	fl.IntVar(&f.opts.Workers, "workers", 0, "athletes replayed at once (0: one per core)")
	fl.IntVar(&f.opts.MemoryRows, "memory-rows", training.DefaultMemoryRows, "training-set "+
		"rows held in memory; a larger set is streamed in passes, with samples of whole "+
		"athletes for evaluation (a --data cohort is always held whole)")
	fl.StringVar(&f.on, "on", "local", "where to train: local, or vertex to submit a "+
		"Vertex AI custom job running the same image (see --vertex-*)")
	f.vertex.register(fl)
	return cmd, f
}

// resolve merges the job file, then the flags the user set, into f.opts.
func (f *trainFlags) resolve(cmd *cobra.Command, g *globals) error {
	if f.on != "local" && f.on != "vertex" {
		return fmt.Errorf("--on %q: want local or vertex", f.on)
	}
	flagged := f.opts // the flags' values, defaults included
	if f.config != "" {
		c, err := readJobConfig(f.config)
		if err != nil {
			return err
		}
		f.opts = training.DefaultOptions()
		if err := c.apply(&f.opts); err != nil {
			return fmt.Errorf("--config %s: %w", f.config, err)
		}
		set := cmd.Flags().Changed
		if set("data") {
			f.opts.Data, f.opts.Source = flagged.Data, nil
		}
		if set("seed") {
			f.opts.Seed = flagged.Seed
		}
		if set("test-share") {
			f.opts.TestShare = flagged.TestShare
		}
		if set("publish-alias") {
			f.opts.PublishAlias = flagged.PublishAlias
		}
		if set("memory-rows") {
			f.opts.MemoryRows = flagged.MemoryRows
		}
		f.opts.Workers = flagged.Workers
	}
	if cmd.Flags().Changed("family") {
		f.opts.Families = f.families
	}
	if cmd.Flags().Changed("gate") {
		gates, err := parseGates(f.gates)
		if err != nil {
			return fmt.Errorf("--gate: %w", err)
		}
		f.opts.Gates = gates
	}
	if f.trainingSet != "" {
		if cmd.Flags().Changed("data") {
			return errors.New("--trainingset and --data exclude each other")
		}
		if f.on == "vertex" {
			return errors.New("--trainingset is read here, not by a Vertex AI job: name " +
				"it in the job file (source.parquet.trainingset) at a path the job reads")
		}
		src, err := training.OpenParquetSource(f.trainingSet, nil)
		if err != nil {
			return fmt.Errorf("--trainingset: %w", err)
		}
		f.opts.Data, f.opts.Source = "", src
	}
	if f.opts.Data == "" && f.opts.Source == nil {
		return errors.New("--data: required (or --trainingset, or a source in the job file)")
	}
	if f.opts.MemoryRows < minMemoryRows {
		return fmt.Errorf("--memory-rows %d: want at least %d", f.opts.MemoryRows,
			minMemoryRows)
	}

	if f.opts.Registry == "" {
		f.opts.Registry = g.registry
	}
	if f.opts.Registry == "" {
		f.opts.Registry = filepath.Join(g.home, "registry")
	}
	if f.dryRun {
		// A dry run still compares with production, but never creates a registry.
		f.opts.DryRun = true
		if _, err := os.Stat(f.opts.Registry); err != nil && !strings.Contains(
			f.opts.Registry, "://") {
			f.opts.Registry = ""
		}
	}
	f.opts.CodeVersion = codeVersion()
	return nil
}

// minMemoryRows is the smallest memory bound train accepts: each family's samples
// get a sixth of it, and fewer rows than this would leave them too few athletes.
const minMemoryRows = 6_000

// rowsRead describes the rows a step has read, or nothing for a step that reads none.
func rowsRead(rows int64) string {
	if rows == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s rows)", humanize.Comma(rows))
}

func runTrain(ctx context.Context, f *trainFlags, g *globals, stdout, stderr io.Writer) error {
	if c, ok := f.opts.Source.(io.Closer); ok {
		defer c.Close()
	}
	if f.opts.Source == nil {
		if _, err := os.Stat(f.opts.Data); err != nil {
			return fmt.Errorf("--data: %w", err)
		}
	}
	began := time.Now()
	log := g.logger()
	var bar *progress
	terminal := onTerminal(stderr)
	var lastStep string
	var lastRows int64
	rep, err := training.Run(ctx, f.opts, func(p training.Progress) {
		if bar == nil {
			bar = newProgress(stderr, p.Total, "training")
		}
		bar.update(p.Done, p.Total, "training: "+p.Step+rowsRead(p.Rows))
		// A log line when a step starts or ends, and per million rows of a pass over
		// the training set.
		if !terminal && (p.Step != lastStep || p.Rows == 0 ||
			p.Rows/1_000_000 != lastRows/1_000_000) {
			args := []any{"step", p.Step, "done", p.Done, "total", p.Total}
			if p.Rows > 0 {
				args = append(args, "rows", p.Rows)
			}
			log.Info("training step", args...)
		}
		lastStep, lastRows = p.Step, p.Rows
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
		if err := writeJSON(f.reportJSON, rep); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
	}
	path := f.record
	if path == "" {
		path = filepath.Join(g.home, "runs", rep.RunID+".json")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
	}
	if err := writeJSON(path, rep.Record()); err != nil {
		return fmt.Errorf("--record: %w", err)
	}
	fmt.Fprintf(stdout, "run record %s\n", path)
	if f.vertex.mirror != "" && f.opts.Registry != "" {
		if err := mirrorVertex(ctx, f, &rep, stdout); err != nil {
			return err
		}
	}
	log.Info("training run finished", "run_id", rep.RunID, "accepted", rep.Accepted(),
		slog.Duration("elapsed", time.Since(began)))
	if !rep.Accepted() {
		return fmt.Errorf("run %s: %w (see %s)", rep.RunID, errRefused, path)
	}
	return nil
}

// writeJSON writes v as indented JSON to path, replacing it atomically.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// printReport shows, per family, the held-out metrics against the baseline and
// production, the goals, the gates and the decision.
func printReport(w io.Writer, rep *training.Report) {
	fmt.Fprintf(w, "run %s: %d athletes for training, %d held out\n", rep.RunID,
		len(rep.TrainAthletes), len(rep.TestAthletes))
	for _, fr := range rep.Families {
		fmt.Fprintf(w, "\n%s (%s, %d training rows): %s\n", fr.Family, fr.Algorithm,
			fr.TrainRows, decision(fr))
		if s := fr.Sample; s != nil {
			fit := "fitted on every training row"
			if s.FitOnSample {
				fit = fmt.Sprintf("fitted on a sample of %d of %d training rows",
					s.SampleTrainRows, s.TrainRows)
			}
			fmt.Fprintf(w, "  streamed: %s; evaluated on a sample of %d of %d held-out "+
				"rows, input ranges and drift profile from %d training rows (samples of "+
				"whole athletes)\n", fit, s.SampleTestRows, s.TestRows, s.SampleTrainRows)
		}
		mostlyMissing := 0
		for _, in := range fr.Inputs {
			if in.MissingShare > 0.5 {
				mostlyMissing++
			}
		}
		if mostlyMissing > 0 {
			fmt.Fprintf(w, "  warning: %d of %d inputs are missing in over half the "+
				"training rows; does the data hold the readings behind them?\n",
				mostlyMissing, len(fr.Inputs))
		}
		for i, o := range fr.Evaluation.Outputs {
			fmt.Fprintf(w, "  %-26s MAE %.3f RMSE %.3f", o.Name, o.Model.MAE, o.Model.RMSE)
			if o.Baseline.N > 0 {
				fmt.Fprintf(w, "  baseline MAE %.3f RMSE %.3f", o.Baseline.MAE,
					o.Baseline.RMSE)
			} else {
				// A training set without the baseline's column has nothing to compare.
				fmt.Fprint(w, "  no baseline")
			}
			if p := fr.Production; p != nil && i < len(p.Outputs) {
				fmt.Fprintf(w, "  production v%d MAE %.3f", p.Version, p.Outputs[i].MAE)
			}
			fmt.Fprintln(w)
		}
		if p := fr.Production; p != nil && p.Error != "" {
			fmt.Fprintf(w, "  production v%d not compared: %s\n", p.Version, p.Error)
		}
		for _, g := range fr.Evaluation.Goals {
			mark := "met   "
			if !g.Met {
				mark = "missed"
			}
			fmt.Fprintf(w, "  goal %s %s: %s\n", mark, g.Name, g.Detail)
		}
		for _, g := range fr.Gates {
			mark := "passed"
			if !g.Passed {
				mark = "FAILED"
			}
			fmt.Fprintf(w, "  gate %s %s: %.4g %s\n", mark, g.Gate, g.Value, g.Detail)
		}
	}
}

// decision says what became of a family's candidate.
func decision(fr training.FamilyReport) string {
	switch {
	case fr.Refused && fr.Version > 0:
		return fmt.Sprintf("refused, recorded as failed version %d", fr.Version)
	case fr.Refused:
		return "refused"
	case fr.Version > 0:
		return fmt.Sprintf("published as version %d", fr.Version)
	}
	return "not published"
}
