package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// ErrSpec means the spec file of figures is malformed.
var ErrSpec = errors.New("invalid bench spec")

// Spec lists the figures the table reports, in order. docs/bench.yaml holds it.
type Spec struct {
	Figures []Figure `yaml:"figures"`
}

// Figure is one row of the table: a measured quantity, its goal and the reference it
// is compared with in the same run.
type Figure struct {
	// Name is what the table calls the figure.
	Name string `yaml:"name"`

	// Measure is where the value comes from; nil when NotMeasured says why not.
	Measure *Source `yaml:"measure"`

	// Unit is how to print the measure and the goal: "ns" prints a duration, "B" a
	// size, anything ending in "/s" a rate.
	Unit string `yaml:"unit"`

	// Goal is the target; a ratio goal is relative to Reference.
	Goal Goal `yaml:"goal"`

	// Reference is measured in the same run to compare the figure with; nil means
	// the goal itself is the reference.
	Reference *Source `yaml:"reference"`

	// NotMeasured, when not empty, says why the figure has no measure, for example
	// that the feature is not built yet. The row is printed all the same.
	NotMeasured string `yaml:"not_measured"`
}

// Source names one measured quantity: a metric of a Go benchmark or of a load test.
type Source struct {
	// Go is the import path of the package holding the benchmark.
	Go string `yaml:"go"`
	// Bench is the benchmark's name without "Benchmark" and without the -N suffix
	// of GOMAXPROCS, sub-benchmarks joined with "/", as in "GRPCIngest/batch=100".
	Bench string `yaml:"bench"`

	// Load is the name of a load test, whose rounds are <Load>.<round>.json.
	Load string `yaml:"load"`

	// Metric is the unit a Go benchmark prints the value with ("readings/s",
	// "p99-ns", "ns/op"), or for a load test one of p50, p90, p95, p99 (latency
	// percentiles in ns), mean (ns) and rps (completed requests per second).
	Metric string `yaml:"metric"`

	// Label is how the table names a reference.
	Label string `yaml:"label"`
}

// Goal is a figure's target. Exactly one field is set: Min and Max are in the
// figure's unit; MinRatio and MaxRatio bound the figure divided by its reference.
type Goal struct {
	Min      *float64 `yaml:"min"`
	Max      *float64 `yaml:"max"`
	MinRatio *float64 `yaml:"min_ratio"`
	MaxRatio *float64 `yaml:"max_ratio"`
}

// isRatio reports whether the goal is relative to a reference.
func (g Goal) isRatio() bool { return g.MinRatio != nil || g.MaxRatio != nil }

// count returns how many bounds are set.
func (g Goal) count() int {
	n := 0
	for _, p := range []*float64{g.Min, g.Max, g.MinRatio, g.MaxRatio} {
		if p != nil {
			n++
		}
	}
	return n
}

// LoadSpec reads and checks the spec file at path.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bench spec: %w", err)
	}
	return ParseSpec(data)
}

// ParseSpec decodes and checks a spec; unknown keys are errors, so that a typo does
// not silently drop a goal.
func ParseSpec(data []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	if len(s.Figures) == 0 {
		return nil, fmt.Errorf("%w: no figures", ErrSpec)
	}
	var errs []error
	for i := range s.Figures {
		if err := s.Figures[i].check(); err != nil {
			errs = append(errs, fmt.Errorf("figure %d (%q): %w", i+1, s.Figures[i].Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	return &s, nil
}

func (f *Figure) check() error {
	switch {
	case f.Name == "":
		return errors.New("no name")
	case f.Unit == "":
		return errors.New("no unit")
	case (f.Measure == nil) == (f.NotMeasured == ""):
		return errors.New("want exactly one of measure and not_measured")
	case f.Goal.count() != 1:
		return errors.New("want exactly one of min, max, min_ratio and max_ratio")
	case f.Goal.isRatio() && f.Reference == nil:
		return errors.New("a ratio goal needs a reference")
	}
	if f.Measure != nil {
		if err := f.Measure.check(); err != nil {
			return fmt.Errorf("measure: %w", err)
		}
	}
	if f.Reference != nil {
		if f.Reference.Label == "" {
			return errors.New("reference: no label")
		}
		// A figure that is not measured names its reference by label only.
		if f.Measure != nil {
			if err := f.Reference.check(); err != nil {
				return fmt.Errorf("reference: %w", err)
			}
		}
	}
	return nil
}

func (s *Source) check() error {
	switch {
	case (s.Go == "") == (s.Load == ""):
		return errors.New("want exactly one of go and load")
	case s.Go != "" && s.Bench == "":
		return errors.New("go without bench")
	case s.Metric == "":
		return errors.New("no metric")
	case s.Load != "" && !loadMetrics[s.Metric]:
		return fmt.Errorf("load metric %q: want p50, p90, p95, p99, mean or rps", s.Metric)
	}
	return nil
}

// key identifies the source among a run's results.
func (s *Source) key() string {
	if s.Load != "" {
		return "load " + s.Load + " " + s.Metric
	}
	return "go " + s.Go + " " + s.Bench + " " + s.Metric
}

// String names the source for messages.
func (s *Source) String() string {
	if s.Load != "" {
		return fmt.Sprintf("load test %s, %s", s.Load, s.Metric)
	}
	return fmt.Sprintf("Benchmark%s, %s", s.Bench, s.Metric)
}
