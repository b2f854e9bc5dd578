package training

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/engine"
	"github.com/hydrocast/hydrocast/training/simulate"
)

// ErrNoData means Options.Data names no cohort.
var ErrNoData = errors.New("no training data folder")

// Options configure Run.
type Options struct {
	// Data is the folder of a cohort written by training/simulate. Required.
	Data string
	// Registry is the model registry to publish to (a folder or a URL that
	// registry/engine opens); empty trains,
	// evaluates and checks the models without publishing them.
	Registry string
	// DryRun trains, evaluates and gates against the registry's production
	// versions, but publishes nothing.
	DryRun bool
	// Seed drives everything random in training: the athlete split, the folds and
	// the anomaly network's initial weights. Every value, zero included, is valid.
	Seed uint64
	// TestShare is the share of athletes held out for evaluation; zero means 0.25.
	TestShare float64
	// Fit tunes the fits; its Seed is replaced by Seed.
	Fit FitOptions
	// PublishAlias, when not empty, is moved to each newly published version, for
	// example "production"; empty leaves every alias where it is.
	PublishAlias string
	// CodeVersion names the code that trains, recorded in the models' lineage; empty
	// means "dev".
	CodeVersion string
	// Principal is on whose behalf the registry is changed when ctx carries none
	// (see registry.WithPrincipal); empty means "hydrocast-train".
	Principal string
	// ORTLibrary is the ONNX Runtime library that checks the exported graphs; empty
	// means ort.LibraryPath().
	ORTLibrary string
	// Workers is the number of athletes replayed at once; zero means GOMAXPROCS.
	Workers int
	// Source, when set, supplies a training set (features and labels per row, for
	// example from BigQuery) instead of the cohort in Data, which is then ignored.
	Source RecordSource
	// MemoryRows bounds the labelled rows of Source a run holds in memory; a larger
	// training set is streamed in passes (see stream.go), each family then keeping
	// samples of at most a sixth of it. Zero means DefaultMemoryRows.
	MemoryRows int

	// Families lists the model families to train, by name; nil trains all three.
	Families []string
	// Labels define the training labels; the zero value is the default of each.
	Labels Labels
	// Gates decide publication: a family is published only when every gate that
	// applies to it holds on the held-out athletes; nil publishes every family.
	Gates []Gate
	// familiesDefaulted is set when Families was nil: a training set that labels
	// no row of a family then trains the others instead of failing.
	familiesDefaulted bool

	// CompareAlias names the registry alias of the version a candidate is compared
	// with (the production version); empty means "production". Without a registry,
	// or when the alias does not exist yet, there is nothing to compare with.
	CompareAlias string
}

// trainingSetGenerator is the card's generator of data read from a training set
// (Options.Source) rather than simulated.
const trainingSetGenerator = "training set"

// AllFamilies lists the families Run trains by default, in the order it trains them.
var AllFamilies = []string{models.SweatRate, models.ThermalTrajectory, models.Anomaly}

// DefaultOptions returns the options of the demo: seed 1, a quarter of the athletes
// held out, no publishing until Data and Registry are set.
func DefaultOptions() Options {
	return Options{Seed: 1, TestShare: 0.25, CodeVersion: "dev",
		Principal: "hydrocast-train", MemoryRows: DefaultMemoryRows}
}

func (o Options) withDefaults() Options {
	if o.TestShare == 0 {
		o.TestShare = 0.25
	}
	if o.CodeVersion == "" {
		o.CodeVersion = "dev"
	}
	if o.Principal == "" {
		o.Principal = "hydrocast-train"
	}
	if o.ORTLibrary == "" {
		o.ORTLibrary = ort.LibraryPath()
	}
	if o.Families == nil {
		o.Families, o.familiesDefaulted = AllFamilies, true
	}
	if o.CompareAlias == "" {
		o.CompareAlias = "production"
	}
	if o.MemoryRows == 0 {
		o.MemoryRows = DefaultMemoryRows
	}
	o.Fit.Seed = o.Seed
	return o
}

// Progress reports a step of Run: Step names it, Done of Total steps are finished.
type Progress struct {
	Step        string
	Done, Total int
	// Rows is the number of rows read so far by a step that reads the training
	// set, reported after every batch; 0 for other steps.
	Rows int64
}

// Report is what Run did: the data, the split and, per family, the fit, the
// held-out comparison with the baseline, the export check and the published
// version.
type Report struct {
	// RunID names the run by its inputs; Fingerprints are those inputs.
	RunID         string         `json:"run_id"`
	Fingerprints  Fingerprints   `json:"fingerprints"`
	Data          CardData       `json:"data"`
	Seed          uint64         `json:"seed"`
	TrainAthletes []string       `json:"train_athletes"`
	TestAthletes  []string       `json:"test_athletes"`
	Families      []FamilyReport `json:"families"`
}

// FamilyReport is one family's part of a Report.
type FamilyReport struct {
	Family     string      `json:"family"`
	Algorithm  string      `json:"algorithm"`
	Penalty    float64     `json:"penalty"`
	Threshold  float64     `json:"alarm_threshold,omitempty"`
	Interval   *Interval   `json:"interval,omitempty"`
	TrainRows  int         `json:"train_rows"`
	Inputs     []InputCard `json:"inputs"`
	Evaluation Evaluation  `json:"evaluation"`
	Export     ExportCheck `json:"export_check"`

	// ONNX is the exported model file; ONNXSHA256 its digest in lowercase hex.
	ONNX       []byte `json:"-"`
	ONNXSHA256 string `json:"onnx_sha256"`

	// Production is the production version scored on the same held-out rows; nil
	// when there is none (or no registry).
	Production *ProductionComparison `json:"production,omitempty"`
	// Gates are the publication gates checked; Refused is set when one failed, and
	// Reasons lists the failures.
	Gates []GateResult `json:"gates,omitempty"`
	// Sample says which rows the evaluation and the drift profile read when the
	// training set was streamed; nil when it was held whole.
	Sample  *SampleReport `json:"sample,omitempty"`
	Refused bool          `json:"refused,omitempty"`
	Reasons []string      `json:"reasons,omitempty"`
	// Reference is the JSON drift profile of the training rows (every input and
	// output); ReferenceSHA256 its digest.
	Reference       []byte `json:"-"`
	ReferenceSHA256 string `json:"reference_sha256"`

	// Version is the registry version published (or, when refused, recorded as
	// failed), 0 when none was written.
	Version int `json:"version,omitempty"`
	// Card is the model card published with the version.
	Card Card `json:"-"`
}

// GoalsMet reports whether every family met every goal on the held-out athletes.
func (r *Report) GoalsMet() bool {
	for _, f := range r.Families {
		for _, g := range f.Evaluation.Goals {
			if !g.Met {
				return false
			}
		}
	}
	return true
}

// Run trains the families of o.Families on the cohort in o.Data (or the training
// set of o.Source): it replays the sessions through the feature store's windows,
// holds out a share of the athletes,
// fits each family on the others, compares it with its physiology baseline and with
// the registry's production version on the held-out athletes, exports it to ONNX
// and checks ONNX Runtime's outputs against the Go model's (failing with
// ErrExportMismatch), profiles its training rows for drift, and checks o.Gates.
// When o.Registry is set it publishes each family that passed its gates and records
// each refused one as a failed version with the reasons. progress, when not nil, is
// called after each step from Run's goroutine. The same data, options and seed give
// byte-identical ONNX files and identical metrics. Missed goals and refusals are
// reported, not errors.
func Run(ctx context.Context, o Options, progress func(Progress)) (Report, error) {
	o = o.withDefaults()
	if err := o.check(); err != nil {
		return Report{}, fmt.Errorf("train: %w", err)
	}
	total := 3 + len(o.Families)
	step := func(done int, name string) {
		if progress != nil {
			progress(Progress{Step: name, Done: done, Total: total})
		}
	}

	// The runtime checks every export; without it the run could not finish.
	if err := ort.Init(o.ORTLibrary); err != nil {
		return Report{}, fmt.Errorf("train: %w", err)
	}
	ds, data, err := loadData(ctx, o, progress)
	if err != nil {
		return Report{}, fmt.Errorf("train: %w", err)
	}
	if o.familiesDefaulted && o.Source != nil {
		o.Families = labelledFamilies(ds, data.first)
		if len(o.Families) == 0 {
			return Report{}, fmt.Errorf("train: %w: the training set labels no row of "+
				"any family", ErrTooFewRows)
		}
		total = 3 + len(o.Families)
	}
	if !data.first.whole {
		total += streamPasses
	}
	step(1, "read training set")
	step(2, "build datasets")
	rep := newReport(data, o)
	fingerprint := data.card.Fingerprint
	if len(rep.TrainAthletes) < 2 || len(rep.TestAthletes) < 1 {
		return Report{}, fmt.Errorf("train: %d training and %d held-out athletes: want at "+
			"least 2 and 1 (change the test share, or bring data of more athletes)",
			len(rep.TrainAthletes), len(rep.TestAthletes))
	}
	split := splitSets(rep.TrainAthletes, rep.TestAthletes)
	var streamed map[string]*streamedFamily
	if !data.first.whole {
		streamed, err = streamFit(ctx, o, data.first, split, func(p Progress) {
			p.Done, p.Total = 2+p.Done, total
			if progress != nil {
				progress(p)
			}
		})
		if err != nil {
			return Report{}, fmt.Errorf("train: %w", err)
		}
	}
	reg, err := openRegistry(ctx, o)
	if err != nil {
		return Report{}, fmt.Errorf("train: %w", err)
	}
	if reg != nil {
		defer reg.Close()
	}

	meta := ExportMeta{TrainedOn: o.trainedOn(), CodeVersion: o.CodeVersion, Seed: o.Seed,
		GeneratorVersion: data.card.Generator, DataFingerprint: fingerprint}
	done := total - len(o.Families) - 1
	for i, name := range o.Families {
		if err := ctx.Err(); err != nil {
			return Report{}, fmt.Errorf("train: %w", err)
		}
		var fr FamilyReport
		var test *Dataset
		if sf, ok := streamed[name]; ok {
			fr, test, err = sf.report(ctx, o, meta)
		} else {
			d, fit := ds.family(name)
			if d == nil {
				return Report{}, fmt.Errorf("train: family %s: %w: the data labels no row "+
					"for it", name, ErrTooFewRows)
			}
			fr, err = trainFamily(ctx, d, split, fit, o, meta)
			test = d.Subset(split.test)
		}
		if err != nil {
			return Report{}, fmt.Errorf("train: %w", err)
		}
		if err := gateFamily(ctx, reg, &fr, test, o); err != nil {
			return Report{}, fmt.Errorf("train: %w", err)
		}
		fr.Card = newCard(fr, rep.Data, o)
		rep.Families = append(rep.Families, fr)
		step(done+1+i, "train "+name)
	}

	if reg == nil || o.DryRun {
		step(total, "done without publishing")
		return rep, nil
	}
	if err := publish(ctx, reg, &rep, o); err != nil {
		return rep, fmt.Errorf("train: %w", err)
	}
	step(total, "publish")
	return rep, nil
}

// labelledFamilies returns the families, in training order, of which the first pass
// over a training set found labelled rows.
func labelledFamilies(ds Datasets, first firstRead) []string {
	var out []string
	for fi, name := range AllFamilies {
		labelled := false
		if first.whole {
			d, _ := ds.family(name)
			labelled = d != nil
		}
		for _, c := range first.counts {
			labelled = labelled || c[fi] > 0
		}
		if labelled {
			out = append(out, name)
		}
	}
	return out
}

// limitations returns the limitations every card of the run carries: the first,
// that the data was simulated, only when it was.
func limitations(o Options) []string {
	if o.trainedOn() == "simulated" {
		return append([]string(nil), commonLimitations...)
	}
	return append([]string(nil), commonLimitations[1:]...)
}

// trainedOn says what the data is: a training set from Source is "recorded", a
// cohort folder "simulated".
func (o Options) trainedOn() string {
	if o.Source != nil {
		return "recorded"
	}
	return "simulated"
}

// check validates options that have had their defaults applied.
func (o Options) check() error {
	if o.Data == "" && o.Source == nil {
		return ErrNoData
	}
	if !(o.TestShare > 0 && o.TestShare < 1) {
		return fmt.Errorf("test share %v: want a share between 0 and 1", o.TestShare)
	}
	seen := map[string]bool{}
	for _, f := range o.Families {
		if !slices.Contains(AllFamilies, f) || seen[f] {
			return fmt.Errorf("family %q: want each at most once of %s", f,
				strings.Join(AllFamilies, ", "))
		}
		seen[f] = true
	}
	if len(o.Families) == 0 {
		return fmt.Errorf("no family to train: want at least one of %s",
			strings.Join(AllFamilies, ", "))
	}
	for _, g := range o.Gates {
		if err := g.Check(); err != nil {
			return err
		}
		// A gate that no trained family reads would be silently unenforced.
		applies := GateMetrics[g.Metric]
		if g.Family != "" {
			applies = []string{g.Family}
		}
		if !slices.ContainsFunc(applies, func(f string) bool {
			return slices.Contains(o.Families, f) && slices.Contains(GateMetrics[g.Metric], f)
		}) {
			return fmt.Errorf("%w: gate %s reads %s of %s, and this run trains only %s",
				ErrGate, g, g.Metric, strings.Join(applies, ", "),
				strings.Join(o.Families, ", "))
		}
	}
	return o.Labels.Check()
}

// family returns the named family's dataset and fit.
func (d Datasets) family(name string) (*Dataset, func(*Dataset, FitOptions) (*Model,
	error)) {
	switch name {
	case models.SweatRate:
		return d.Sweat, FitSweat
	case models.ThermalTrajectory:
		return d.Thermal, FitThermal
	}
	return d.Anomaly, FitAnomaly
}

// openRegistry opens o.Registry; nil when it is empty.
func openRegistry(ctx context.Context, o Options) (*registry.Registry, error) {
	if o.Registry == "" {
		return nil, nil
	}
	return engine.OpenURL(ctx, o.Registry)
}

// gateFamily scores the production version on the held-out rows test, when reg has
// one, and checks o.Gates, marking fr refused with the reasons when one fails.
func gateFamily(ctx context.Context, reg *registry.Registry, fr *FamilyReport,
	test *Dataset, o Options) error {
	if reg != nil {
		v, err := productionVersion(ctx, reg, fr.Family, o.CompareAlias)
		if err != nil {
			return err
		}
		if v != nil {
			if fr.Production, err = compareProduction(ctx, reg, v, test); err != nil {
				return err
			}
		}
	}
	fr.Gates = checkGates(o.Gates, fr.Family, gateMetrics(fr.Evaluation, fr.Production),
		fr.Production)
	for _, g := range fr.Gates {
		if g.Passed {
			continue
		}
		fr.Refused = true
		reason := fmt.Sprintf("gate %s failed: value %.4g", g.Gate, g.Value)
		if g.Detail != "" {
			reason = "gate " + g.Gate + " failed: " + g.Detail
		}
		fr.Reasons = append(fr.Reasons, reason)
	}
	return nil
}

// loadCohort reads and verifies the cohort in dir and returns it with the SHA-256 of
// its manifest, which lists every file's checksum and so identifies the data.
func loadCohort(dir string) (simulate.Cohort, string, error) {
	c, err := simulate.LoadCohort(dir)
	if err != nil {
		return c, "", err
	}
	if err := c.Verify(); err != nil {
		return c, "", err
	}
	// The simulator writes its manifest under this name (see training/simulate).
	manifest, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return c, "", fmt.Errorf("read cohort manifest: %w", err)
	}
	sum := sha256.Sum256(manifest)
	return c, hex.EncodeToString(sum[:]), nil
}

// loadedData describes the data a run trains on: the card's data section (with the
// fingerprint) and every athlete; first, for a training set of o.Source, what its
// first pass found (whole is false when it is too large to hold and is streamed).
type loadedData struct {
	card     CardData
	athletes []string
	first    firstRead
}

// loadData builds the datasets from o.Source or, without one, from the cohort in
// o.Data. A source with more labelled rows than o.MemoryRows is only counted, for
// streamFit to read in passes.
func loadData(ctx context.Context, o Options, progress func(Progress)) (Datasets,
	loadedData, error) {
	if o.Source != nil {
		first, err := firstPass(ctx, o.Source, o.MemoryRows, func(rows int64) {
			if progress != nil {
				progress(Progress{Step: "read training set", Rows: rows, Total: 1})
			}
		})
		if err != nil {
			return Datasets{}, loadedData{}, err
		}
		data := loadedData{card: CardData{Generator: trainingSetGenerator,
			Fingerprint: o.Source.Fingerprint()}, first: first}
		for a := range first.counts {
			data.athletes = append(data.athletes, a)
		}
		slices.Sort(data.athletes)
		data.card.Athletes = len(data.athletes)
		return first.datasets, data, nil
	}

	cohort, fingerprint, err := loadCohort(o.Data)
	if err != nil {
		return Datasets{}, loadedData{}, err
	}
	ds, err := buildDatasets(ctx, &cohort, o.Workers, o.Labels)
	if err != nil {
		return Datasets{}, loadedData{}, err
	}
	data := loadedData{card: CardData{Generator: cohort.Manifest.GeneratorVersion,
		CohortSeed: cohort.Manifest.Seed, Fingerprint: fingerprint,
		Athletes: len(cohort.Athletes), Sessions: len(cohort.Sessions)},
		first: firstRead{whole: true}}
	for _, a := range cohort.Athletes {
		data.athletes = append(data.athletes, a.ID)
	}
	return ds, data, nil
}

func newReport(data loadedData, o Options) Report {
	train, test := SplitAthletes(data.athletes, o.TestShare, o.Seed)
	card := data.card
	card.TrainAthletes, card.TestAthletes = len(train), len(test)
	return Report{
		Data: card, Seed: o.Seed, TrainAthletes: train, TestAthletes: test,
		Fingerprints: Fingerprints{Data: "sha256:" + card.Fingerprint,
			Config: o.Fingerprint(), Code: o.CodeVersion, Seed: o.Seed},
		RunID: runID(card.Fingerprint, o),
	}
}

// athleteSplit holds the two sides of the split as sets.
type athleteSplit struct{ train, test map[string]bool }

func splitSets(train, test []string) athleteSplit {
	s := athleteSplit{train: map[string]bool{}, test: map[string]bool{}}
	for _, a := range train {
		s.train[a] = true
	}
	for _, a := range test {
		s.test[a] = true
	}
	return s
}

// trainFamily fits one family on the training athletes, evaluates it on the others,
// exports it and checks the export.
func trainFamily(ctx context.Context, d *Dataset, split athleteSplit,
	fit func(*Dataset, FitOptions) (*Model, error), o Options,
	meta ExportMeta) (FamilyReport, error) {
	train, test := d.Subset(split.train), d.Subset(split.test)
	if train.Rows() == 0 || test.Rows() == 0 {
		return FamilyReport{}, fmt.Errorf("family %s: %d training and %d test rows: %w",
			d.Family.Name, train.Rows(), test.Rows(), ErrTooFewRows)
	}
	m, err := fit(train, o.Fit)
	if err != nil {
		return FamilyReport{}, err
	}
	return finishFamily(ctx, m, train, test, d, false, o, meta)
}

// finishFamily exports the fitted model m, checks the export on the held-out rows
// test, evaluates it on them, profiles the training rows train for drift and, for
// the sweat family, cross-validates the interval's coverage on all, the rows of
// every athlete (or, when sampled, the samples of a streamed run).
func finishFamily(ctx context.Context, m *Model, train, test, all *Dataset, sampled bool,
	o Options, meta ExportMeta) (FamilyReport, error) {
	data, err := m.Export(meta)
	if err != nil {
		return FamilyReport{}, err
	}
	check, err := CheckExport(ctx, m, data, test)
	if err != nil {
		return FamilyReport{}, err
	}
	ref, err := referenceProfile(m, train)
	if err != nil {
		return FamilyReport{}, err
	}
	ev := Evaluate(m, test)
	if m.Interval != nil {
		// Coverage over all athletes: one small held-out split measures it poorly.
		cv, err := CrossValidateCoverage(all, 0, o.Fit)
		if err != nil {
			return FamilyReport{}, err
		}
		cv.Sampled = sampled
		checkCoverage(&ev, cv)
	}
	sum, refSum := sha256.Sum256(data), sha256.Sum256(ref)
	return FamilyReport{
		Family: m.Family.Name, Algorithm: m.Algorithm(), Penalty: m.Lambda,
		Threshold: m.Threshold, Interval: m.Interval, TrainRows: train.Rows(),
		Inputs: inputCards(m, train), Evaluation: ev, Export: check,
		ONNX: data, ONNXSHA256: hex.EncodeToString(sum[:]),
		Reference: ref, ReferenceSHA256: hex.EncodeToString(refSum[:]),
	}, nil
}

// newCard writes the model card of a trained family.
func newCard(fr FamilyReport, data CardData, o Options) Card {
	use := familyUse[fr.Family]
	f, _ := models.FamilyByName(fr.Family)
	return Card{
		Model: fr.Family, Description: f.Description, TrainedOn: o.trainedOn(), Data: data,
		Training: CardTraining{Algorithm: fr.Algorithm, Seed: o.Seed,
			CodeVersion: o.CodeVersion, SchemaVersion: features.SchemaVersion,
			TrainRows: fr.TrainRows, Penalty: fr.Penalty, Threshold: fr.Threshold,
			Interval: fr.Interval, Sample: fr.Sample},
		Inputs: fr.Inputs, Outputs: f.Outputs, Evaluation: fr.Evaluation,
		IntendedUse: use.use,
		Limitations: append(limitations(o), use.limitations...),
	}
}
