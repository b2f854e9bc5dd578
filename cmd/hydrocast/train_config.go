package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	"github.com/mattn/go-isatty"

	"github.com/hydrocast/hydrocast/training"
	"github.com/hydrocast/hydrocast/training/bigquery"
)

// maxJobConfigBytes bounds a job file; real ones are a few hundred bytes.
const maxJobConfigBytes = 1 << 20

// jobConfig is a training job file (YAML). Every field is optional: an absent one
// keeps the default of its flag. An unknown key is an error.
type jobConfig struct {
	Source struct {
		// Type is "parquet" (the default) or "bigquery".
		Type    string `koanf:"type"`
		Parquet struct {
			// Dir is a cohort folder written by hydrocast simulate.
			Dir string `koanf:"dir"`
			// TrainingSet is a training-set Parquet file, or a folder of them, as
			// hydrocast trainingset writes.
			TrainingSet string `koanf:"trainingset"`
		} `koanf:"parquet"`
		BigQuery struct {
			Project string `koanf:"project"`
			Dataset string `koanf:"dataset"`
			// Table holds the feature rows; LabelsTable the labels.
			Table               string `koanf:"table"`
			LabelsTable         string `koanf:"labels_table"`
			MaxStalenessMinutes int    `koanf:"max_staleness_minutes"`
		} `koanf:"bigquery"`
	} `koanf:"source"`

	Labels struct {
		SweatRate string `koanf:"sweat_rate"`
		CoreTemp  string `koanf:"core_temp"`
	} `koanf:"labels"`

	// Family lists the families to train; empty trains all three.
	Family []string `koanf:"family"`

	Hyperparameters struct {
		Folds                 int       `koanf:"folds"`
		Lambdas               []float64 `koanf:"lambdas"`
		AnomalyHidden         int       `koanf:"anomaly_hidden"`
		AnomalyL2             float64   `koanf:"anomaly_l2"`
		AnomalyMaxIter        int       `koanf:"anomaly_max_iter"`
		IntervalCoverage      float64   `koanf:"interval_coverage"`
		MaxFalseAlarmsPerHour float64   `koanf:"max_false_alarms_per_hour"`
	} `koanf:"hyperparameters"`

	Split struct {
		// By must be "athlete": an athlete's sessions stay on one side.
		By        string   `koanf:"by"`
		TestShare *float64 `koanf:"test_share"`
	} `koanf:"split"`

	Seed *uint64 `koanf:"seed"`

	// MemoryRows bounds the rows of a training set held in memory; a larger one is
	// streamed in passes (training.Options.MemoryRows).
	MemoryRows *int `koanf:"memory_rows"`

	// Gates are publication gates as training.ParseGate reads them.
	Gates []string `koanf:"gates"`

	Publish struct {
		Alias        string `koanf:"alias"`
		CompareAlias string `koanf:"compare_alias"`
	} `koanf:"publish"`
}

// parseJobConfig decodes a job file strictly: unknown keys and values of the wrong
// type are errors that name the key.
func parseJobConfig(data []byte) (*jobConfig, error) {
	if len(data) > maxJobConfigBytes {
		return nil, fmt.Errorf("%d bytes, at most %d", len(data), maxJobConfigBytes)
	}
	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(data), yaml.Parser()); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	c := &jobConfig{}
	err := k.UnmarshalWithConf("", c, koanf.UnmarshalConf{
		DecoderConfig: &mapstructure.DecoderConfig{ErrorUnused: true, TagName: "koanf"},
	})
	if err != nil {
		return nil, fmt.Errorf("%s", decodeErrorText(err))
	}
	return c, nil
}

// decodeErrorText flattens mapstructure's list of problems into one line, so that
// the unknown or mistyped keys read in the error the CLI prints.
func decodeErrorText(err error) string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "*"))
		if l != "" && !strings.HasPrefix(l, "decoding failed") &&
			!strings.HasSuffix(l, "error(s) decoding:") {
			// The top level has no key of its own; name it for a reader.
			lines = append(lines, strings.ReplaceAll(l, "'main.jobConfig'", "the job file"))
		}
	}
	if len(lines) == 0 {
		return err.Error()
	}
	return strings.Join(lines, "; ")
}

// readJobConfig reads and decodes the job file at path, or, for "env:NAME", the
// one in environment variable NAME (how a Vertex AI job receives it).
func readJobConfig(path string) (*jobConfig, error) {
	if name, ok := strings.CutPrefix(path, "env:"); ok {
		data, set := os.LookupEnv(name)
		if !set {
			return nil, fmt.Errorf("--config %s: environment variable %s is not set", path,
				name)
		}
		c, err := parseJobConfig([]byte(data))
		if err != nil {
			return nil, fmt.Errorf("--config %s: %w", path, err)
		}
		return c, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJobConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	c, perr := parseJobConfig(data)
	if perr != nil {
		return nil, fmt.Errorf("--config %s: %w", path, perr)
	}
	return c, nil
}

// apply copies the job's settings into o; flags the user set afterwards win.
func (c *jobConfig) apply(o *training.Options) error {
	switch c.Source.Type {
	case "", "parquet":
		bq := c.Source.BigQuery
		if bq.Project != "" || bq.Dataset != "" || bq.Table != "" {
			return errors.New("source.bigquery is set but source.type is not bigquery")
		}
		pq := c.Source.Parquet
		if pq.Dir != "" && pq.TrainingSet != "" {
			return errors.New("source.parquet: dir (a simulated cohort) and trainingset " +
				"exclude each other")
		}
		if pq.Dir != "" {
			o.Data = pq.Dir
		}
		if pq.TrainingSet != "" {
			src, err := training.OpenParquetSource(pq.TrainingSet, nil)
			if err != nil {
				return fmt.Errorf("source.parquet.trainingset: %w", err)
			}
			o.Source = src
		}
	case "bigquery":
		if c.Source.Parquet.TrainingSet != "" {
			return errors.New("source.parquet.trainingset is set but source.type is bigquery")
		}
		bq := c.Source.BigQuery
		src, err := bigquery.New(bigquery.Options{Project: bq.Project, Dataset: bq.Dataset,
			Features: bq.Table, Labels: bq.LabelsTable,
			MaxStalenessMinutes: bq.MaxStalenessMinutes})
		if err != nil {
			return fmt.Errorf("source.bigquery: %w", err)
		}
		o.Source = src
	default:
		return fmt.Errorf("source.type %q: want parquet or bigquery", c.Source.Type)
	}

	o.Labels = training.Labels{SweatRate: c.Labels.SweatRate, CoreTemp: c.Labels.CoreTemp}
	if err := o.Labels.Check(); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	if len(c.Family) > 0 {
		o.Families = c.Family
	}

	h := c.Hyperparameters
	o.Fit.Folds, o.Fit.Lambdas, o.Fit.AnomalyHidden = h.Folds, h.Lambdas, h.AnomalyHidden
	o.Fit.AnomalyL2, o.Fit.AnomalyMaxIter = h.AnomalyL2, h.AnomalyMaxIter
	o.Fit.IntervalCoverage, o.Fit.MaxFalseAlarmsPerHour = h.IntervalCoverage,
		h.MaxFalseAlarmsPerHour
	if err := checkHyperparameters(o.Fit); err != nil {
		return fmt.Errorf("hyperparameters: %w", err)
	}

	if c.Split.By != "" && c.Split.By != "athlete" {
		return fmt.Errorf("split.by %q: only athlete is supported (rows of one athlete "+
			"must stay on one side)", c.Split.By)
	}
	if c.Split.TestShare != nil {
		o.TestShare = *c.Split.TestShare
	}
	if c.Seed != nil {
		o.Seed = *c.Seed
	}
	if c.MemoryRows != nil {
		if *c.MemoryRows < minMemoryRows {
			return fmt.Errorf("memory_rows %d: want at least %d", *c.MemoryRows,
				minMemoryRows)
		}
		o.MemoryRows = *c.MemoryRows
	}

	gates, err := parseGates(c.Gates)
	if err != nil {
		return fmt.Errorf("gates: %w", err)
	}
	o.Gates = gates
	if c.Publish.Alias != "" {
		o.PublishAlias = c.Publish.Alias
	}
	o.CompareAlias = c.Publish.CompareAlias
	return nil
}

// checkHyperparameters refuses values the fits would misread.
func checkHyperparameters(f training.FitOptions) error {
	for _, v := range []struct {
		name string
		v    float64
	}{{"anomaly_l2", f.AnomalyL2}, {"interval_coverage", f.IntervalCoverage},
		{"max_false_alarms_per_hour", f.MaxFalseAlarmsPerHour}} {
		if math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return fmt.Errorf("%s %v: want a finite number", v.name, v.v)
		}
	}
	switch {
	case f.Folds < 0 || f.Folds == 1:
		return fmt.Errorf("folds %d: want 0 (default) or at least 2", f.Folds)
	case f.AnomalyHidden < -1:
		return fmt.Errorf("anomaly_hidden %d: want -1 (logistic), 0 (default) or more",
			f.AnomalyHidden)
	case f.AnomalyL2 < 0 || f.AnomalyMaxIter < 0:
		return errors.New("anomaly_l2 and anomaly_max_iter must not be negative")
	case f.IntervalCoverage < 0 || f.IntervalCoverage >= 1:
		return fmt.Errorf("interval_coverage %v: want a share below 1", f.IntervalCoverage)
	case f.MaxFalseAlarmsPerHour < 0:
		return errors.New("max_false_alarms_per_hour must not be negative")
	}
	if f.Lambdas != nil && len(f.Lambdas) == 0 {
		return errors.New("lambdas: an empty list; leave it out for the default grid")
	}
	for _, l := range f.Lambdas {
		if !(l >= 0) || math.IsInf(l, 0) {
			return fmt.Errorf("lambdas: %v is not a penalty (want ≥ 0)", l)
		}
	}
	return nil
}

// parseGates reads gate expressions; nil for none.
func parseGates(exprs []string) ([]training.Gate, error) {
	var gates []training.Gate
	for _, s := range exprs {
		g, err := training.ParseGate(s)
		if err != nil {
			return nil, err
		}
		gates = append(gates, g)
	}
	return gates, nil
}

// codeVersion names the code that trains: the version set at build time, else the
// VCS revision Go stamped into the binary (with "+dirty" for a modified tree), else
// "dev".
func codeVersion() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return version
	}
	return rev + dirty
}

// onTerminal reports whether w is a terminal, where progress bars replace the
// per-step log lines.
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
