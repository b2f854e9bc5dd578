package training

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
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
}

// DefaultOptions returns the options of the demo: seed 1, a quarter of the athletes
// held out, no publishing until Data and Registry are set.
func DefaultOptions() Options {
	return Options{Seed: 1, TestShare: 0.25, CodeVersion: "dev",
		Principal: "hydrocast-train"}
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
	o.Fit.Seed = o.Seed
	return o
}

// Progress reports a step of Run: Step names it, Done of Total steps are finished.
type Progress struct {
	Step        string
	Done, Total int
}

// Report is what Run did: the data, the split and, per family, the fit, the
// held-out comparison with the baseline, the export check and the published
// version.
type Report struct {
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

	// Version is the registry version published, 0 when not published.
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

// Run trains the three families on the cohort in o.Data: it replays the sessions
// through the feature store's windows, holds out a share of the athletes, fits each
// family on the others, compares it with its physiology baseline on the held-out
// athletes, exports it to ONNX and checks ONNX Runtime's outputs against the Go
// model's (failing with ErrExportMismatch), then publishes the three versions when
// o.Registry is set. progress, when not nil, is called after each step from Run's
// goroutine. The same data, options and seed give byte-identical ONNX files and
// identical metrics. Goals that are missed are reported, not errors.
func Run(ctx context.Context, o Options, progress func(Progress)) (Report, error) {
	o = o.withDefaults()
	if o.Data == "" {
		return Report{}, ErrNoData
	}
	if !(o.TestShare > 0 && o.TestShare < 1) {
		return Report{}, fmt.Errorf("train: test share %v: want a share between 0 and 1",
			o.TestShare)
	}
	const total = 6
	step := func(done int, name string) {
		if progress != nil {
			progress(Progress{Step: name, Done: done, Total: total})
		}
	}

	// The runtime checks every export; without it the run could not finish.
	if err := ort.Init(o.ORTLibrary); err != nil {
		return Report{}, fmt.Errorf("train: %w", err)
	}
	cohort, fingerprint, err := loadCohort(o.Data)
	if err != nil {
		return Report{}, fmt.Errorf("train: %w", err)
	}
	step(1, "load cohort")
	ds, err := BuildDatasets(ctx, &cohort, o.Workers)
	if err != nil {
		return Report{}, fmt.Errorf("train: %w", err)
	}
	step(2, "build datasets")

	rep := newReport(&cohort, fingerprint, o)
	if len(rep.TrainAthletes) < 2 || len(rep.TestAthletes) < 1 {
		return Report{}, fmt.Errorf("train: %d training and %d held-out athletes: want at "+
			"least 2 and 1 (change the test share or simulate more athletes)",
			len(rep.TrainAthletes), len(rep.TestAthletes))
	}
	split := splitSets(rep.TrainAthletes, rep.TestAthletes)
	meta := ExportMeta{CodeVersion: o.CodeVersion, Seed: o.Seed,
		GeneratorVersion: cohort.Manifest.GeneratorVersion, DataFingerprint: fingerprint}
	fits := []struct {
		data *Dataset
		fit  func(*Dataset, FitOptions) (*Model, error)
	}{{ds.Sweat, FitSweat}, {ds.Thermal, FitThermal}, {ds.Anomaly, FitAnomaly}}
	for i, f := range fits {
		if err := ctx.Err(); err != nil {
			return Report{}, fmt.Errorf("train: %w", err)
		}
		fr, err := trainFamily(ctx, f.data, split, f.fit, o, meta)
		if err != nil {
			return Report{}, fmt.Errorf("train: %w", err)
		}
		fr.Card = newCard(fr, rep.Data, o)
		rep.Families = append(rep.Families, fr)
		step(3+i, "train "+f.data.Family.Name)
	}

	if o.Registry == "" {
		step(total, "done without publishing")
		return rep, nil
	}
	if err := publish(ctx, &rep, o); err != nil {
		return rep, fmt.Errorf("train: %w", err)
	}
	step(total, "publish")
	return rep, nil
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

func newReport(c *simulate.Cohort, fingerprint string, o Options) Report {
	ids := make([]string, len(c.Athletes))
	for i, a := range c.Athletes {
		ids[i] = a.ID
	}
	train, test := SplitAthletes(ids, o.TestShare, o.Seed)
	return Report{
		Data: CardData{
			Generator: c.Manifest.GeneratorVersion, CohortSeed: c.Manifest.Seed,
			Fingerprint: fingerprint, Athletes: len(c.Athletes), Sessions: len(c.Sessions),
			TrainAthletes: len(train), TestAthletes: len(test),
		},
		Seed: o.Seed, TrainAthletes: train, TestAthletes: test,
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

	data, err := m.Export(meta)
	if err != nil {
		return FamilyReport{}, err
	}
	check, err := CheckExport(ctx, m, data, test)
	if err != nil {
		return FamilyReport{}, err
	}
	ev := Evaluate(m, test)
	if m.Interval != nil {
		// Coverage over all athletes: one small held-out split measures it poorly.
		cv, err := CrossValidateCoverage(d, 0, o.Fit)
		if err != nil {
			return FamilyReport{}, err
		}
		checkCoverage(&ev, cv)
	}
	sum := sha256.Sum256(data)
	return FamilyReport{
		Family: d.Family.Name, Algorithm: m.Algorithm(), Penalty: m.Lambda,
		Threshold: m.Threshold, Interval: m.Interval, TrainRows: train.Rows(),
		Inputs: inputCards(m, train), Evaluation: ev, Export: check,
		ONNX: data, ONNXSHA256: hex.EncodeToString(sum[:]),
	}, nil
}

// newCard writes the model card of a trained family.
func newCard(fr FamilyReport, data CardData, o Options) Card {
	use := familyUse[fr.Family]
	f, _ := models.FamilyByName(fr.Family)
	return Card{
		Model: fr.Family, Description: f.Description, TrainedOn: "simulated", Data: data,
		Training: CardTraining{Algorithm: fr.Algorithm, Seed: o.Seed,
			CodeVersion: o.CodeVersion, SchemaVersion: features.SchemaVersion,
			TrainRows: fr.TrainRows, Penalty: fr.Penalty, Threshold: fr.Threshold,
			Interval: fr.Interval},
		Inputs: fr.Inputs, Outputs: f.Outputs, Evaluation: fr.Evaluation,
		IntendedUse: use.use,
		Limitations: append(append([]string(nil), commonLimitations...),
			use.limitations...),
	}
}
