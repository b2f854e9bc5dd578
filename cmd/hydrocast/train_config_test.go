package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/training"
)

func TestJobConfigExamples(t *testing.T) {
	for _, name := range []string{"nightly.yaml", "sweat-only.yaml", "bigquery.yaml"} {
		t.Run(name, func(t *testing.T) {
			c, err := readJobConfig(filepath.Join("..", "..", "deploy", "jobs", name))
			if err != nil {
				t.Fatal(err)
			}
			o := training.DefaultOptions()
			if err := c.apply(&o); err != nil {
				t.Fatal(err)
			}
			if o.Data == "" && o.Source == nil || len(o.Gates) == 0 || o.PublishAlias == "" {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestJobConfigNightly(t *testing.T) {
	c, err := readJobConfig(filepath.Join("..", "..", "deploy", "jobs", "nightly.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	o := training.DefaultOptions()
	if err := c.apply(&o); err != nil {
		t.Fatal(err)
	}
	if o.Labels.SweatRate != training.SweatLabelMassBalance || o.Fit.Folds != 5 ||
		len(o.Fit.Lambdas) != 9 || o.TestShare != 0.25 || o.Seed != 1 ||
		!slices.Equal(o.Families, training.AllFamilies) {
		t.Errorf("options %+v", o)
	}
	want := training.Gate{Metric: "mae_vs_production", Op: "<=", Value: 1.02}
	if len(o.Gates) != 4 || o.Gates[1] != want || o.Gates[2].Family != models.Anomaly {
		t.Errorf("gates %+v", o.Gates)
	}
}

func TestJobConfigRefuses(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", "seed: 1\nsede: 2\n", "sede"},
		{"unknown nested key", "source:\n  parquet:\n    dri: x\n", "dri"},
		{"wrong type", "seed: many\n", "seed"},
		{"negative seed", "seed: -1\n", "seed"},
		{"not YAML", "seed: [1\n", "parse YAML"},
		{"split by row", "split:\n  by: row\n", "split.by"},
		{"bad gate", "gates: ['mae_vs_baseline ~ 1']\n", "gates"},
		{"unknown metric", "gates: ['mea < 1']\n", `"mea"`},
		{"label", "labels:\n  sweat_rate: guess\n", `"guess"`},
		{"source type", "source:\n  type: csv\n", "source.type"},
		{"bigquery without type", "source:\n  bigquery:\n    table: t\n", "source.bigquery"},
		{"bigquery without labels", "source:\n  type: bigquery\n  bigquery:\n" +
			"    project: p\n    dataset: d\n    table: t\n", "labels table"},
		{"folds", "hyperparameters:\n  folds: 1\n", "folds"},
		{"lambda", "hyperparameters:\n  lambdas: [-1]\n", "lambdas"},
		{"memory rows", "memory_rows: 100\n", "memory_rows 100"},
		{"no lambdas", "hyperparameters:\n  lambdas: []\n", "lambdas"},
		{"infinite lambda", "hyperparameters:\n  lambdas: [.inf]\n", "lambdas"},
		{"NaN coverage", "hyperparameters:\n  interval_coverage: .nan\n",
			"interval_coverage"},
		{"NaN alarms", "hyperparameters:\n  max_false_alarms_per_hour: .nan\n",
			"max_false_alarms_per_hour"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := applyJob([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one naming %q", err, c.want)
			}
		})
	}
}

// applyJob parses a job file and applies it to default options.
func applyJob(data []byte) error {
	c, err := parseJobConfig(data)
	if err != nil {
		return err
	}
	o := training.DefaultOptions()
	return c.apply(&o)
}

func TestTrainFlagsOverrideConfig(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	err := os.WriteFile(job, []byte("source:\n  parquet:\n    dir: cohort-a\nseed: 5\n"+
		"split:\n  test_share: 0.3\ngates: ['mae_vs_baseline < 1']\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	g := &globals{home: dir}
	cases := []struct {
		args      []string
		data      string
		seed      uint64
		testShare float64
		gates     int
	}{
		{[]string{"--config", job}, "cohort-a", 5, 0.3, 1},
		{[]string{"--config", job, "--seed", "9", "--data", "b", "--gate", "mae < 1",
			"--gate", "rmse < 2"}, "b", 9, 0.3, 2},
		{[]string{"--data", "c"}, "c", 1, 0.25, 0},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cmd, f := trainCommand(g)
			if err := cmd.ParseFlags(c.args); err != nil {
				t.Fatal(err)
			}
			if err := f.resolve(cmd, g); err != nil {
				t.Fatal(err)
			}
			o := f.opts
			if o.Data != c.data || o.Seed != c.seed || o.TestShare != c.testShare ||
				len(o.Gates) != c.gates || o.Registry != filepath.Join(dir, "registry") {
				t.Errorf("options %+v", o)
			}
		})
	}

	cmd, f := trainCommand(g)
	if err := cmd.ParseFlags([]string{"--gate", "mae"}); err != nil {
		t.Fatal(err)
	}
	if err := f.resolve(cmd, g); err == nil || !strings.Contains(err.Error(), "--gate") {
		t.Errorf("bad --gate: error %v", err)
	}
	cmd, f = trainCommand(g)
	if err := f.resolve(cmd, g); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("no data: error %v", err)
	}
}

func FuzzParseJobConfig(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "jobs",
		"nightly.yaml")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("seed: 1\n"))
	f.Add([]byte("gates: ['x < 1']\nfamily: [anomaly]\n"))
	f.Add([]byte("source: {type: bigquery, bigquery: {project: p}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseJobConfig(data)
		if err != nil {
			return
		}
		o := training.DefaultOptions()
		if err := c.apply(&o); err != nil {
			return
		}
		// Whatever a file sets, the options it yields pass the gates' own check.
		for _, g := range o.Gates {
			if err := g.Check(); err != nil {
				t.Fatalf("gate %+v accepted from %q: %v", g, data, err)
			}
		}
		if o.Labels.Check() != nil {
			t.Fatalf("labels %+v accepted from %q", o.Labels, data)
		}
	})
}

func TestJobConfigFromEnvironment(t *testing.T) {
	t.Setenv(jobConfigEnv, "seed: 4\nfamily: [anomaly]\n")
	c, err := readJobConfig("env:" + jobConfigEnv)
	if err != nil {
		t.Fatal(err)
	}
	if *c.Seed != 4 || !slices.Equal(c.Family, []string{models.Anomaly}) {
		t.Errorf("config %+v", c)
	}
	if _, err := readJobConfig("env:HYDROCAST_NOT_SET_ANYWHERE"); err == nil ||
		!strings.Contains(err.Error(), "HYDROCAST_NOT_SET_ANYWHERE") {
		t.Errorf("unset variable: error %v", err)
	}
}

// TestVertexArgsRoundTrip checks that the container arguments of a Vertex AI job,
// with the job file in the environment, resolve to the options the command line
// resolved to here.
func TestVertexArgsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	yaml := "source:\n  parquet:\n    dir: /data/cohort\nseed: 5\ngates: ['mae < 2']\n"
	if err := os.WriteFile(job, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &globals{home: dir, registry: "postgres://db/reg?artifacts=gs://b/a"}
	cmd, f := trainCommand(g)
	err := cmd.ParseFlags([]string{"--config", job, "--seed", "9", "--gate", "rmse < 1",
		"--family", "sweat-rate", "--on", "vertex", "--vertex-output", "gs://runs/n"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.resolve(cmd, g); err != nil {
		t.Fatal(err)
	}
	args := vertexArgs(cmd, f, g)
	joined := strings.Join(args, " ")
	for _, want := range []string{"train --config env:" + jobConfigEnv, "--seed 9",
		"--gate rmse < 1", "--family sweat-rate", "--registry " + g.registry,
		"--record /gcs/runs/n/run-record.json"} {
		if !strings.Contains(joined, want) {
			t.Errorf("args %q lack %q", joined, want)
		}
	}

	// --registry is the root command's flag; this test parses the train command alone.
	i := slices.Index(args, "--registry")
	local := slices.Delete(slices.Clone(args), i, i+2)
	t.Setenv(jobConfigEnv, yaml)
	there, tf := trainCommand(g)
	if err := there.ParseFlags(local[1:]); err != nil {
		t.Fatal(err)
	}
	if err := tf.resolve(there, g); err != nil {
		t.Fatal(err)
	}
	if tf.opts.Fingerprint() != f.opts.Fingerprint() || tf.opts.Data != f.opts.Data {
		t.Errorf("the job resolves to %+v, here %+v", tf.opts, f.opts)
	}
}

// writeTrainingSetFile writes an empty training-set Parquet file with the given
// columns (all float64 but athlete_id and as_of) and returns its path.
func writeTrainingSetFile(t *testing.T, dir string, columns ...string) string {
	t.Helper()
	fields := []arrow.Field{{Name: training.ColumnAthlete, Type: arrow.BinaryTypes.String},
		{Name: training.ColumnAsOf, Type: arrow.FixedWidthTypes.Timestamp_ms}}
	for _, c := range columns {
		fields = append(fields, arrow.Field{Name: c, Type: arrow.PrimitiveTypes.Float64,
			Nullable: true})
	}
	path := filepath.Join(dir, "set.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = offline.WriteParquet(f, arrow.NewSchema(fields, nil), nil, 0,
		func(func(arrow.Record) error) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestJobConfigTrainingSet(t *testing.T) {
	set := writeTrainingSetFile(t, t.TempDir(), models.OutSweatRate)
	c, err := parseJobConfig([]byte("source:\n  type: parquet\n  parquet:\n" +
		"    trainingset: " + set + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := training.DefaultOptions()
	if err := c.apply(&o); err != nil {
		t.Fatal(err)
	}
	src, ok := o.Source.(*training.ParquetSource)
	if !ok || o.Data != "" || !slices.Equal(src.Files(), []string{set}) {
		t.Errorf("source %T %v, data %q; want the training set", o.Source, o.Source, o.Data)
	}

	unlabelled := writeTrainingSetFile(t, t.TempDir(), "heart_rate_bpm_mean_5m")
	cases := []struct{ name, yaml, want string }{
		{"both", "source:\n  parquet:\n    dir: cohort\n    trainingset: " + set + "\n",
			"exclude each other"},
		{"missing", "source:\n  parquet:\n    trainingset: " + set + ".gone\n",
			"source.parquet.trainingset"},
		{"unlabelled", "source:\n  parquet:\n    trainingset: " + unlabelled + "\n",
			"no label column"},
		{"bigquery", "source:\n  type: bigquery\n  parquet:\n    trainingset: x\n" +
			"  bigquery:\n    project: p\n    dataset: d\n    table: t\n" +
			"    labels_table: l\n", "source.parquet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := applyJob([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one naming %q", err, c.want)
			}
		})
	}
}

func TestTrainFlagTrainingSet(t *testing.T) {
	dir := t.TempDir()
	set := writeTrainingSetFile(t, dir, training.LabelFault)
	g := &globals{home: dir}
	for _, c := range []struct {
		args []string
		want string // the error wanted; empty for none
	}{
		{[]string{"--trainingset", set}, ""},
		{[]string{"--trainingset", set, "--data", "cohort"}, "exclude each other"},
		{[]string{"--trainingset", filepath.Join(dir, "none.parquet")}, "--trainingset"},
		{[]string{"--trainingset", set, "--on", "vertex"}, "job file"},
	} {
		cmd, f := trainCommand(g)
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		err := f.resolve(cmd, g)
		if c.want == "" {
			if _, ok := f.opts.Source.(*training.ParquetSource); err != nil || !ok {
				t.Errorf("%v: error %v, source %T", c.args, err, f.opts.Source)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %q", c.args, err, c.want)
		}
	}
}
