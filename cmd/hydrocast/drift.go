package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/evaluation"
	"github.com/hydrocast/hydrocast/evaluation/drift"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry"
)

type driftReportFlags struct {
	model       string
	version     string
	since       time.Duration
	format      string
	out         string
	state       string
	labels      string
	predictions string
}

func newDriftCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Compare live traffic with each model version's training data",
		Long: `Drift compares the live sketches a server keeps per model version (every input
feature and output, in hourly buckets, saved under <home>/drift) with the reference
profile training stored with the version in the registry.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newDriftReportCommand(g))
	return cmd
}

func newDriftReportCommand(g *globals) *cobra.Command {
	f := &driftReportFlags{}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write a drift report of one model version as HTML or JSON",
		Long: `Report tests every feature of a model version: the version's live data (as saved
by hydrocast serve) against its training reference. Per feature it gives the test
(Kolmogorov-Smirnov or chi-square up to 1000 reference values, normalised Wasserstein
or Jensen-Shannon above), the score, the threshold, the verdict and the PSI; drifted
features come first. The HTML draws reference and live distributions side by side and
the drift of each feature over time; it is one file that loads nothing.

With --labels (measured sweat rates of finished sessions) and --predictions (the
prediction log, such as the lines of hydrocast replay --output jsonl) the report adds
the realised accuracy of each sweat-rate version and an A/B analysis of each pair.
--labels defaults to the labels hydrocast serve records (RecordOutcome) in
<home>/labels/labels.jsonl.`,
		Example: `  hydrocast drift report --model sweat-rate --format html --out drift.html
  hydrocast drift report --model thermal-trajectory --version 4 --since 24h --format json
  hydrocast drift report --model sweat-rate --labels weigh-ins.csv \
    --predictions predictions.jsonl --out drift.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.state == "" {
				f.state = filepath.Join(g.home, "drift")
			}
			// The labels that hydrocast serve's RecordOutcome collected, when there are.
			if f.labels == "" && f.predictions != "" {
				if _, err := os.Stat(labelsPath(g.home)); err == nil {
					f.labels = labelsPath(g.home)
				}
			}
			return runDriftReport(cmd.Context(), g, f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model name, such as sweat-rate (required)")
	fl.StringVar(&f.version, "version", "production", "version number or alias")
	fl.DurationVar(&f.since, "since", 0, "report only the live data of this last span, "+
		"such as 24h (0: everything kept)")
	fl.StringVar(&f.format, "format", "html", "output format: html or json")
	fl.StringVar(&f.out, "out", "", "write the report to this file (default stdout)")
	fl.StringVar(&f.state, "state", "", "folder of the saved live sketches "+
		"(default <home>/drift)")
	fl.StringVar(&f.labels, "labels", "", "measured sweat rates per session: JSON lines "+
		"or CSV with athlete_id, session_start, [session_end,] sweat_rate_l_per_h "+
		"(default with --predictions: <home>/labels/labels.jsonl, which serve's "+
		"RecordOutcome fills, when it exists)")
	fl.StringVar(&f.predictions, "predictions", "", "prediction log (JSON lines with "+
		"time, athlete_id, sweat_rate_l_per_h, model_versions); needed with --labels")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

func runDriftReport(ctx context.Context, g *globals, f *driftReportFlags,
	stdout io.Writer) error {
	if f.format != "html" && f.format != "json" {
		return fmt.Errorf("--format %q: want html or json", f.format)
	}
	if f.since < 0 {
		return fmt.Errorf("--since %v: must not be negative", f.since)
	}
	if (f.labels == "") != (f.predictions == "") {
		return errors.New("--labels and --predictions go together: realised accuracy " +
			"matches the logged predictions to the measured sessions")
	}
	if f.labels != "" && f.model != models.SweatRate {
		return fmt.Errorf("--labels: labels are measured sweat rates and apply to "+
			"--model %s, not %s", models.SweatRate, f.model)
	}

	v, profile, err := referenceOf(ctx, g, f.model, f.version)
	if err != nil {
		return err
	}
	k := drift.Key{Model: v.Model, Version: v.Number}
	m, err := drift.ReadState(f.state, k, profile)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no live sketches of %s in %s: hydrocast serve saves them "+
			"there while it serves the version (--state names another folder)", k, f.state)
	}
	if err != nil {
		return err
	}
	if f.since > 0 {
		m = m.Since(time.Now().Add(-f.since))
	}
	r := m.Report(drift.Options{})
	r.Title = k.String()

	var realised *evaluation.Realised
	if f.labels != "" {
		if realised, err = realisedAccuracy(f.labels, f.predictions, f.model); err != nil {
			return err
		}
		r.Sections = realisedSections(realised)
	}

	var buf bytes.Buffer
	if f.format == "html" {
		err = r.WriteHTML(&buf)
	} else {
		err = writeDriftJSON(&buf, r, realised)
	}
	if err != nil {
		return err
	}
	if f.out == "" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	return writeFileAtomic(f.out, buf.Bytes())
}

// referenceOf resolves a version in the registry and decodes its reference profile.
func referenceOf(ctx context.Context, g *globals, model, ref string) (registry.Version,
	*drift.Profile, error) {
	reg, err := openRegistry(ctx, g)
	if err != nil {
		return registry.Version{}, nil, err
	}
	defer reg.Close()
	v, err := reg.Resolve(ctx, model, ref)
	if err != nil {
		return v, nil, fmt.Errorf("--model %s --version %s: %w (registry: %s)", model, ref,
			err, registryName(g))
	}
	if len(v.Reference) == 0 {
		return v, nil, fmt.Errorf("%s version %d has no reference profile: it was "+
			"published without one (hydrocast train stores it)", v.Model, v.Number)
	}
	p, err := drift.DecodeProfile(v.Reference)
	if err != nil {
		return v, nil, fmt.Errorf("%s version %d: reference profile: %w", v.Model,
			v.Number, err)
	}
	return v, p, nil
}

// writeDriftJSON writes the report with the realised accuracy, when there is one, as
// one more top-level field.
func writeDriftJSON(w io.Writer, r *drift.Report, realised *evaluation.Realised) error {
	doc := struct {
		*drift.Report
		Realised *evaluation.Realised `json:"realised_accuracy,omitempty"`
	}{r, realised}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// realisedAccuracy reads the labels and the prediction log and scores each version.
func realisedAccuracy(labelsPath, predsPath, model string) (*evaluation.Realised, error) {
	lf, err := os.Open(labelsPath)
	if err != nil {
		return nil, fmt.Errorf("--labels: %w", err)
	}
	defer lf.Close()
	labels, err := evaluation.ReadLabels(lf)
	if err != nil {
		return nil, fmt.Errorf("--labels %s: %w", labelsPath, err)
	}
	pf, err := os.Open(predsPath)
	if err != nil {
		return nil, fmt.Errorf("--predictions: %w", err)
	}
	defer pf.Close()
	preds, err := evaluation.ReadPredictions(pf, model)
	if err != nil {
		return nil, fmt.Errorf("--predictions %s: %w", predsPath, err)
	}
	r, err := evaluation.RealisedAccuracy(labels, preds, evaluation.RealisedOptions{})
	if err != nil {
		return nil, fmt.Errorf("--labels with --predictions: %w", err)
	}
	return &r, nil
}

// realisedSections turns realised accuracy into the report's extra tables.
func realisedSections(r *evaluation.Realised) []drift.Section {
	acc := drift.Section{
		Title: "Realised accuracy per version",
		Note: fmt.Sprintf("%d of %d logged predictions fell in one of %d labelled "+
			"sessions; sweat rate in L/h.", r.Matched, r.Predictions, r.Labels),
		Columns: []string{"version", "sessions", "predictions", "MAE", "RMSE", "bias",
			"R²", "interval coverage"},
	}
	for _, v := range r.Versions {
		m := v.Metrics
		acc.Rows = append(acc.Rows, []string{v.Version, strconv.Itoa(v.Sessions),
			strconv.Itoa(m.N), fmt3(m.MAE), fmt3(m.RMSE), fmt3(m.Bias), optional3(m.R2),
			optional3(m.Coverage)})
	}
	out := []drift.Section{acc}
	if len(r.AB) == 0 {
		return out
	}
	ab := drift.Section{
		Title: "A/B analysis of labelled sessions",
		Note: "Outcome: each session's mean absolute error; difference B − A with its " +
			"95 % interval (Welch's t-test).",
		Columns: []string{"A", "B", "difference", "interval", "p-value", "verdict",
			"more sessions needed"},
	}
	for _, p := range r.AB {
		if p.Result == nil {
			ab.Rows = append(ab.Rows, []string{p.A, p.B, "–", "–", "–", p.Error, "–"})
			continue
		}
		res := p.Result
		verdict := "inconclusive"
		if res.Conclusive {
			verdict = "version " + map[string]string{"a": p.A, "b": p.B}[res.Better] +
				" is better"
		}
		more := "–"
		if res.Power.MoreSessions != nil {
			more = strconv.Itoa(*res.Power.MoreSessions)
		}
		ab.Rows = append(ab.Rows, []string{p.A, p.B, fmt3(res.Diff),
			"[" + fmt3(res.Lower) + ", " + fmt3(res.Upper) + "]",
			strconv.FormatFloat(res.PValue, 'g', 3, 64), verdict, more})
	}
	return append(out, ab)
}

func fmt3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func optional3(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt3(*v)
}
