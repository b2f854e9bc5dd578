package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/evaluation"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/models/physio"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/training"
	"github.com/hydrocast/hydrocast/training/simulate"
)

type evalFlags struct {
	model       string
	versions    string
	data        string
	format      string
	out         string
	workers     int
	seed        uint64
	labels      string
	predictions string
}

func newEvalCommand(g *globals) *cobra.Command {
	f := &evalFlags{}
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Score model versions on a simulated cohort and compare them",
		Long: `Eval replays a cohort written by hydrocast simulate through the serving windows (as
training does), runs each named version's ONNX file on every example and scores it
against the cohort's labels: MAE, RMSE, R², bias and prediction-interval coverage,
overall and per segment (sport, heat category by WBGT, acclimatised or not). With two
versions it adds the paired difference B − A of every metric, with a bootstrap
confidence interval that resamples whole sessions.

Heat categories follow the WBGT flag bands: low below 18 °C, moderate 18–23, high
23–27.8, very high 27.8–32.2 (ACSM 2007: limit intense exercise from 30.1), extreme
above 32.2 (cancel).

JSON holds the nested results and, under "table", the same long table the Parquet
output holds: pandas reads either in one line (pd.read_parquet(path) or
pd.DataFrame(json.load(open(path))["table"])).

With --labels (measured sweat rates of real sessions) and --predictions (the logged
predictions, such as hydrocast replay --output jsonl lines) it also scores the
realised accuracy of every version in the log and runs an A/B analysis of each pair;
--data and --versions may then be left out.`,
		Example: `  hydrocast eval --model sweat-rate --versions 3,4 --data var/cohort
  hydrocast eval --model thermal-trajectory --versions production --data var/cohort \
    --format json --out eval.json
  hydrocast eval --model sweat-rate --versions 3,4 --data var/cohort --format parquet \
    --out eval.parquet
  hydrocast eval --model sweat-rate --labels weigh-ins.csv --predictions log.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEval(cmd.Context(), g, f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model family: sweat-rate, thermal-trajectory or "+
		"anomaly (required)")
	fl.StringVar(&f.versions, "versions", "", "one or two versions (numbers or aliases), "+
		"comma-separated; with two, B − A is compared")
	fl.StringVar(&f.data, "data", "", "cohort folder written by hydrocast simulate")
	fl.StringVar(&f.format, "format", "table", "output format: table, json or parquet")
	fl.StringVar(&f.out, "out", "", "write to this file (default stdout; parquet needs it)")
	fl.IntVar(&f.workers, "workers", 0, "athletes replayed at once (0: one per core)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the bootstrap resamples")
	fl.StringVar(&f.labels, "labels", "", "measured sweat rates per session (JSON lines or "+
		"CSV: athlete_id, session_start, [session_end,] sweat_rate_l_per_h)")
	fl.StringVar(&f.predictions, "predictions", "", "prediction log to score against "+
		"--labels (JSON lines with time, athlete_id, sweat_rate_l_per_h, model_versions)")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// evalResult is the JSON form of an evaluation.
type evalResult struct {
	Model    string            `json:"model"`
	Data     string            `json:"data"`
	Rows     int               `json:"rows"`
	Sessions int               `json:"sessions"`
	Versions []int             `json:"versions"`
	Outputs  []evalOutput      `json:"outputs"`
	Table    []evaluation.Row  `json:"table"`
	Segments map[string]string `json:"segment_definitions,omitempty"`
	// Realised is the accuracy of the logged predictions against --labels.
	Realised *evaluation.Realised `json:"realised_accuracy,omitempty"`
}

// evalOutput scores one labelled output of the model.
type evalOutput struct {
	Output     string                 `json:"output"`
	Unit       string                 `json:"unit"`
	Versions   []evalVersion          `json:"versions"`
	Comparison *evaluation.Comparison `json:"comparison,omitempty"`
	Note       string                 `json:"note,omitempty"`
}

// evalVersion is one version's metrics on one output, overall and per segment.
type evalVersion struct {
	Version  int                                    `json:"version"`
	Metrics  evaluation.Metrics                     `json:"metrics"`
	Segments map[string][]evaluation.SegmentMetrics `json:"segments"`
}

func runEval(ctx context.Context, g *globals, f *evalFlags, stdout io.Writer) error {
	if err := checkEvalFlags(f); err != nil {
		return err
	}
	res := &evalResult{Model: f.model}
	if f.data != "" {
		var err error
		if res, err = computeEval(ctx, g, f); err != nil {
			return err
		}
	}
	if f.labels != "" {
		r, err := realisedAccuracy(f.labels, f.predictions, f.model)
		if err != nil {
			return err
		}
		res.Realised = r
		res.Table = append(res.Table, r.Table()...)
	}
	return writeEval(stdout, f, res)
}

// checkEvalFlags reports flags that cannot go together.
func checkEvalFlags(f *evalFlags) error {
	if (f.labels == "") != (f.predictions == "") {
		return errors.New("--labels and --predictions go together: realised accuracy " +
			"matches the logged predictions to the measured sessions")
	}
	if f.labels != "" && f.model != models.SweatRate {
		return fmt.Errorf("--labels: labels are measured sweat rates and apply to "+
			"--model %s, not %s", models.SweatRate, f.model)
	}
	if f.labels == "" && (f.data == "" || f.versions == "") {
		return errors.New("--data and --versions are required (or --labels with " +
			"--predictions)")
	}
	if (f.data == "") != (f.versions == "") {
		return errors.New("--data and --versions go together")
	}
	return nil
}

// computeEval checks the flags, runs the versions on the cohort and scores them.
func computeEval(ctx context.Context, g *globals, f *evalFlags) (*evalResult, error) {
	fam, ok := models.FamilyByName(f.model)
	if !ok {
		return nil, fmt.Errorf("--model %q: want sweat-rate, thermal-trajectory or anomaly",
			f.model)
	}
	refs := strings.Split(f.versions, ",")
	if len(refs) > 2 || slices.Contains(refs, "") {
		return nil, fmt.Errorf("--versions %q: want one or two versions, such as 3,4", f.versions)
	}
	switch f.format {
	case "table", "json":
	case "parquet":
		if f.out == "" {
			return nil, errors.New("--format parquet needs --out: Parquet is binary")
		}
	default:
		return nil, fmt.Errorf("--format %q: want table, json or parquet", f.format)
	}

	cohort, err := simulate.LoadCohort(f.data)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	reg, err := openRegistry(ctx, g)
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	versions := make([]registry.Version, len(refs))
	for i, ref := range refs {
		if versions[i], err = reg.Resolve(ctx, fam.Name, strings.TrimSpace(ref)); err != nil {
			return nil, fmt.Errorf("--versions %s: %w (registry: %s)", ref, err, registryName(g))
		}
	}
	if err := initRuntime(); err != nil {
		return nil, err
	}

	sets, err := training.BuildDatasets(ctx, &cohort, f.workers)
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", f.data, err)
	}
	ds := map[string]*training.Dataset{models.SweatRate: sets.Sweat,
		models.ThermalTrajectory: sets.Thermal, models.Anomaly: sets.Anomaly}[fam.Name]
	preds := make([]map[string][]float64, len(versions))
	for i, v := range versions {
		if preds[i], err = predictVersion(ctx, reg, fam, v, ds); err != nil {
			return nil, err
		}
	}

	res, err := evaluate(fam, versions, preds, ds, segmentsOf(&cohort, ds), f.seed)
	if err != nil {
		return nil, err
	}
	res.Data = f.data
	return res, nil
}

// predictVersion runs version v's ONNX file on every row of ds and returns each of
// the family's outputs by name. Missing features are imputed with the version's
// impute tag, as the server does.
func predictVersion(ctx context.Context, reg *registry.Registry, fam models.Family,
	v registry.Version, ds *training.Dataset) (map[string][]float64, error) {
	if len(v.Signature.Inputs) != 1 {
		return nil, fmt.Errorf("%s version %d: signature has %d inputs, want 1", fam.Name,
			v.Number, len(v.Signature.Inputs))
	}
	names := v.Signature.Inputs[0].Features
	cols := make([]int, len(names))
	for i, n := range names {
		if cols[i] = slices.Index(fam.Features, n); cols[i] < 0 {
			return nil, fmt.Errorf("%s version %d reads feature %q, which the %s dataset "+
				"lacks", fam.Name, v.Number, n, fam.Name)
		}
	}
	impute := make([]float64, len(names))
	if s, ok := v.Tags[models.TagImpute]; ok {
		if err := json.Unmarshal([]byte(s), &impute); err != nil || len(impute) != len(names) {
			return nil, fmt.Errorf("%s version %d: tag %s: want %d numbers", fam.Name,
				v.Number, models.TagImpute, len(names))
		}
	}

	data, err := reg.Artifact(ctx, v)
	if err != nil {
		return nil, err
	}
	sess, err := ort.NewSession(data, ort.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s version %d: %w", fam.Name, v.Number, err)
	}
	defer sess.Close()
	outIdx := make(map[string]int)
	for i, o := range sess.Outputs() {
		outIdx[o.Name] = i
	}

	n := ds.Rows()
	res := make(map[string][]float64)
	const batch = 2048
	x := make([]float32, 0, batch*len(names))
	out := make([][]float32, len(sess.Outputs()))
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		x = x[:0]
		for r := lo; r < hi; r++ {
			row := ds.X.RawRowView(r)
			for k, c := range cols {
				val := row[c]
				if math.IsNaN(val) {
					val = impute[k]
				}
				x = append(x, float32(val))
			}
		}
		if err := sess.RunFloat32(ctx, x, out); err != nil {
			return nil, fmt.Errorf("%s version %d: run: %w", fam.Name, v.Number, err)
		}
		for _, o := range fam.Outputs {
			i, ok := outIdx[o.Name]
			if !ok {
				return nil, fmt.Errorf("%s version %d: the graph has no output %q",
					fam.Name, v.Number, o.Name)
			}
			for _, y := range out[i][:hi-lo] {
				res[o.Name] = append(res[o.Name], float64(y))
			}
		}
	}
	return res, nil
}

// The segment kinds of an evaluation.
const (
	segSport = "sport"
	segHeat  = "heat"
	segAccl  = "acclimatised"
)

// segmentsOf names, per kind, each dataset row's segment, from its session and
// athlete in the cohort.
func segmentsOf(c *simulate.Cohort, ds *training.Dataset) map[string][]string {
	sessions := make(map[string]*simulate.Session, len(c.Sessions))
	for i := range c.Sessions {
		sessions[c.Sessions[i].ID] = &c.Sessions[i]
	}
	accl := make(map[string]bool, len(c.Athletes))
	for _, a := range c.Athletes {
		accl[a.ID] = a.Acclimatised
	}
	out := map[string][]string{segSport: nil, segHeat: nil, segAccl: nil}
	for i := range ds.Rows() {
		sport, heat := "unknown", "unknown"
		if s := sessions[ds.When[i].Session]; s != nil {
			sport = string(s.Sport)
			heat = heatCategory(physio.WBGTFromHumidity(s.MeanAmbientC, s.MeanHumidityPct))
		}
		a := "not acclimatised"
		if accl[ds.Athletes[i]] {
			a = "acclimatised"
		}
		out[segSport] = append(out[segSport], sport)
		out[segHeat] = append(out[segHeat], heat)
		out[segAccl] = append(out[segAccl], a)
	}
	return out
}

// heatCategories are the WBGT bands of sessions, coolest first (see the command's
// help), with the upper bound of each in °C.
var heatCategories = []struct {
	name  string
	below float64
}{
	{"low (WBGT < 18)", 18},
	{"moderate (WBGT 18-23)", 23},
	{"high (WBGT 23-27.8)", 27.8},
	{"very high (WBGT 27.8-32.2)", 32.2},
	{"extreme (WBGT > 32.2)", math.Inf(1)},
}

// heatCategory names the WBGT band of a session.
func heatCategory(wbgt float64) string {
	for _, c := range heatCategories {
		if wbgt < c.below {
			return c.name
		}
	}
	return "unknown" // NaN
}

// heatRank orders heat categories coolest first, unknown last.
func heatRank(name string) int {
	for i, c := range heatCategories {
		if c.name == name {
			return i
		}
	}
	return len(heatCategories)
}

// evaluate scores each version on each labelled output and compares the first two.
func evaluate(fam models.Family, versions []registry.Version, preds []map[string][]float64,
	ds *training.Dataset, segs map[string][]string, seed uint64) (*evalResult, error) {
	res := &evalResult{Model: fam.Name, Rows: ds.Rows(), Segments: map[string]string{
		segSport: "the session's sport",
		segHeat:  "the session's mean WBGT (from air temperature and humidity), °C",
		segAccl:  "whether the athlete is heat-acclimatised",
	}}
	group := make([]string, ds.Rows())
	seen := map[string]bool{}
	for i, w := range ds.When {
		group[i] = w.Session
		seen[w.Session] = true
	}
	res.Sessions = len(seen)
	for _, v := range versions {
		res.Versions = append(res.Versions, v.Number)
	}

	_, labelled := ds.Y.Dims()
	for j := range labelled {
		o := fam.Outputs[j]
		eo := evalOutput{Output: o.Name, Unit: o.Unit}
		label := mat.Col(nil, j, ds.Y)
		var scored []evaluation.Predictions
		for i, v := range versions {
			p := evaluation.Predictions{Label: label, Pred: preds[i][o.Name], Group: group}
			if fam.Name == models.SweatRate && j == 0 {
				p.Lower, p.Upper = preds[i][models.OutSweatRateLower],
					preds[i][models.OutSweatRateUpper]
			}
			ev, err := scoreVersion(p, segs)
			if err != nil {
				return nil, fmt.Errorf("%s version %d, %s: %w", fam.Name, v.Number, o.Name, err)
			}
			ev.Version = v.Number
			eo.Versions = append(eo.Versions, ev)
			scored = append(scored, p)
		}
		if len(scored) == 2 {
			c, err := evaluation.Compare(scored[0], scored[1],
				evaluation.BootstrapOptions{Seed: seed})
			if err != nil {
				return nil, fmt.Errorf("compare %s: %w", o.Name, err)
			}
			eo.Comparison = &c
		}
		if fam.Name == models.Anomaly {
			eo.Note = "labels are 1 for a sensor fault and 0 otherwise; MAE is the mean " +
				"distance of the score from them"
		}
		res.Outputs = append(res.Outputs, eo)
	}
	res.Table = evalTable(res)
	return res, nil
}

// scoreVersion scores one version's predictions overall and per segment kind.
func scoreVersion(p evaluation.Predictions, segs map[string][]string) (evalVersion, error) {
	m, err := evaluation.Score(p)
	if err != nil {
		return evalVersion{}, err
	}
	ev := evalVersion{Metrics: m, Segments: map[string][]evaluation.SegmentMetrics{}}
	for kind, names := range segs {
		p.Segment = names
		sm, err := evaluation.BySegment(p)
		if err != nil {
			return evalVersion{}, err
		}
		if kind == segHeat {
			slices.SortStableFunc(sm, func(a, b evaluation.SegmentMetrics) int {
				return heatRank(a.Segment) - heatRank(b.Segment)
			})
		}
		ev.Segments[kind] = sm
	}
	return ev, nil
}

// evalTable flattens the results into the long table (segments as "kind=name").
func evalTable(res *evalResult) []evaluation.Row {
	var rows []evaluation.Row
	for _, o := range res.Outputs {
		start := len(rows)
		for _, v := range o.Versions {
			ver := strconv.Itoa(v.Version)
			rows = append(rows, v.Metrics.Table(evaluation.AnalysisMetrics, ver, "")...)
			for _, kind := range []string{segSport, segHeat, segAccl} {
				for _, sm := range v.Segments[kind] {
					sm.Segment = kind + "=" + sm.Segment
					rows = append(rows, evaluation.SegmentTable(ver,
						[]evaluation.SegmentMetrics{sm})...)
				}
			}
		}
		if o.Comparison != nil {
			rows = append(rows, o.Comparison.Table()...)
		}
		for i := start; i < len(rows); i++ {
			rows[i].Output = o.Output
		}
	}
	return rows
}

// writeEval writes the results in the chosen format.
func writeEval(stdout io.Writer, f *evalFlags, res *evalResult) error {
	var buf bytes.Buffer
	var err error
	switch f.format {
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	case "parquet":
		err = evaluation.WriteParquet(&buf, res.Table)
	default:
		err = writeEvalText(&buf, res)
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

// writeEvalText prints the metrics, the segment tables and the comparison.
func writeEvalText(w io.Writer, res *evalResult) error {
	if res.Data != "" {
		fmt.Fprintf(w, "%s on %d rows from %d sessions of %s\n", res.Model, res.Rows,
			res.Sessions, res.Data)
	}
	for _, o := range res.Outputs {
		fmt.Fprintf(w, "\n%s (%s)\n", o.Output, o.Unit)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "version\tsegment\tn\tMAE\tRMSE\tbias\tR²\tcoverage\t")
		for _, v := range o.Versions {
			printMetricsRow(tw, v.Version, "all", v.Metrics)
			for _, kind := range []string{segSport, segHeat, segAccl} {
				for _, sm := range v.Segments[kind] {
					printMetricsRow(tw, v.Version, kind+": "+sm.Segment, sm.Metrics)
				}
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if c := o.Comparison; c != nil {
			fmt.Fprintf(w, "B − A (version %d − version %d), %s, %.0f %% interval:\n",
				res.Versions[1], res.Versions[0], c.Method, 100*c.Confidence)
			for _, d := range c.Differences {
				better := ""
				if d.Better != "" {
					better = fmt.Sprintf("  version %d is better",
						res.Versions[map[string]int{"a": 0, "b": 1}[d.Better]])
				}
				fmt.Fprintf(w, "  %-9s %+.4f  [%+.4f, %+.4f]%s\n", d.Metric, d.Diff, d.Lower,
					d.Upper, better)
			}
		}
	}
	if res.Realised != nil {
		for _, sec := range realisedSections(res.Realised) {
			fmt.Fprintf(w, "\n%s\n%s\n", sec.Title, sec.Note)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, strings.Join(sec.Columns, "\t"))
			for _, row := range sec.Rows {
				fmt.Fprintln(tw, strings.Join(row, "\t"))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func printMetricsRow(w io.Writer, version int, segment string, m evaluation.Metrics) {
	fmt.Fprintf(w, "%d\t%s\t%d\t%.4f\t%.4f\t%+.4f\t%s\t%s\t\n", version, segment, m.N, m.MAE,
		m.RMSE, m.Bias, optional3(m.R2), optional3(m.Coverage))
}
