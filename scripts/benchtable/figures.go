package main

import (
	"fmt"
	"slices"
	"strings"
)

// The verdicts of a row.
const (
	Meets       = "meets"
	Misses      = "misses"
	Invalid     = "invalid" // some requests of its load tests failed
	NotMeasured = "not measured"
)

// Row is one figure evaluated on one run's results.
type Row struct {
	Figure string `json:"figure"`
	Unit   string `json:"unit"`
	// Measured is the median of Samples.
	Measured *float64  `json:"measured,omitempty"`
	Samples  []float64 `json:"samples,omitempty"`
	// Goal is the goal as printed; Threshold is the goal in the figure's unit, for a
	// ratio goal its factor times the reference's median.
	Goal      string   `json:"goal"`
	Threshold *float64 `json:"threshold,omitempty"`
	// Reference names what the figure is compared with: a same-run measure, or
	// "goal" when there is none.
	Reference      string   `json:"reference"`
	ReferenceValue *float64 `json:"reference_value,omitempty"`
	// Ratio is the figure over its reference: the median of the round-by-round
	// ratios for two load tests, else the ratio of the medians; over the goal when
	// the goal is the reference.
	Ratio   *float64 `json:"ratio,omitempty"`
	Verdict string   `json:"verdict"`
	Note    string   `json:"note,omitempty"`
}

// Evaluate returns the rows of every figure of spec on res.
func Evaluate(spec *Spec, res *Results) []Row {
	rows := make([]Row, len(spec.Figures))
	for i := range spec.Figures {
		rows[i] = evaluate(&spec.Figures[i], res)
	}
	return rows
}

func evaluate(f *Figure, res *Results) Row {
	row := Row{Figure: f.Name, Unit: f.Unit, Reference: "goal"}
	if f.Reference != nil {
		row.Reference = f.Reference.Label
	}
	row.Goal = goalText(f, nil)
	if f.NotMeasured != "" {
		return notMeasured(row, f.NotMeasured)
	}
	row.Samples = res.Samples(f.Measure)
	if len(row.Samples) == 0 {
		return notMeasured(row, "no result of "+f.Measure.String())
	}
	measured := median(row.Samples)
	row.Measured = &measured

	if f.Reference != nil {
		refSamples := res.Samples(f.Reference)
		if len(refSamples) == 0 && f.Goal.isRatio() {
			return notMeasured(row, "no result of the reference, "+f.Reference.String())
		}
		if len(refSamples) > 0 {
			ref := median(refSamples)
			row.ReferenceValue = &ref
			ratio := measured / ref
			if paired := res.PairedRatios(f.Measure, f.Reference); len(paired) > 0 {
				ratio = median(paired)
			}
			row.Ratio = &ratio
		}
	}
	threshold := goalThreshold(f.Goal, row.ReferenceValue)
	row.Threshold = &threshold
	row.Goal = goalText(f, row.ReferenceValue)
	if f.Reference == nil {
		ratio := measured / threshold
		row.Ratio = &ratio
	}

	row.Verdict = Misses
	if meets(f.Goal, measured, row.Ratio) {
		row.Verdict = Meets
	}
	var notes []string
	if n := failedRequests(f, res); n > 0 {
		row.Verdict = Invalid
		notes = append(notes, fmt.Sprintf("%d requests failed", n))
	}
	notes = append(notes, shortNotes(f, res)...)
	row.Note = strings.Join(notes, "; ")
	return row
}

// shortNotes says which of the figure's fixed-rate load tests did not hold their
// rate, and at what rate they ran: their latencies were measured at a lower load.
func shortNotes(f *Figure, res *Results) []string {
	var notes []string
	for _, src := range []*Source{f.Measure, f.Reference} {
		if src == nil || src.Load == "" {
			continue
		}
		rounds := res.ShortRounds(src)
		if len(rounds) == 0 {
			continue
		}
		rates := make([]string, len(rounds))
		for i, sr := range rounds {
			rates[i] = sig3(sr.rps)
		}
		notes = append(notes, fmt.Sprintf("%s held %s of %s req/s", src.Load,
			strings.Join(rates, ", "), sig3(rounds[0].targetRPS)))
	}
	return notes
}

func notMeasured(row Row, why string) Row {
	row.Verdict, row.Note = NotMeasured, why
	return row
}

// goalThreshold returns the goal in the figure's unit; ref is the reference's median,
// needed by a ratio goal.
func goalThreshold(g Goal, ref *float64) float64 {
	switch {
	case g.Min != nil:
		return *g.Min
	case g.Max != nil:
		return *g.Max
	case g.MinRatio != nil:
		return *g.MinRatio * *ref
	default:
		return *g.MaxRatio * *ref
	}
}

// meets reports whether a figure measured at value, with ratio to its reference,
// reaches goal.
func meets(g Goal, value float64, ratio *float64) bool {
	switch {
	case g.Min != nil:
		return value >= *g.Min
	case g.Max != nil:
		return value <= *g.Max
	case g.MinRatio != nil:
		return *ratio >= *g.MinRatio
	default:
		return *ratio <= *g.MaxRatio
	}
}

// failedRequests counts the failed requests of the figure's load tests.
func failedRequests(f *Figure, res *Results) int64 {
	n := res.Failed(f.Measure)
	if f.Reference != nil && f.Reference.Load != "" {
		n += res.Failed(f.Reference)
	}
	return n
}

// median returns the median of vs, which must not be empty.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
