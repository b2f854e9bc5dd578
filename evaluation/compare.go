package evaluation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// The metric names used in comparisons and tables.
const (
	MetricMAE      = "mae"
	MetricRMSE     = "rmse"
	MetricBias     = "bias"
	MetricR2       = "r2"
	MetricCoverage = "coverage"
	MetricN        = "n"
)

// BootstrapOptions control a bootstrap. A zero field selects the default.
type BootstrapOptions struct {
	// Resamples is the number of bootstrap resamples. Default 2000.
	Resamples int
	// Confidence is the level of the interval, in (0, 1). Default 0.95.
	Confidence float64
	// Seed fixes the resamples, so that a comparison is reproducible.
	Seed uint64
}

func (o BootstrapOptions) withDefaults() BootstrapOptions {
	if o.Resamples <= 0 {
		o.Resamples = 2000
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		o.Confidence = 0.95
	}
	return o
}

// Comparison is the paired difference between versions A and B on the same rows.
type Comparison struct {
	Rows   int     `json:"rows"`   // rows usable in both versions
	Groups int     `json:"groups"` // groups (sessions) resampled
	A      Metrics `json:"a"`
	B      Metrics `json:"b"`
	// Differences holds B − A for each metric both versions define.
	Differences []Difference `json:"differences"`
	Method      string       `json:"method"`
	Confidence  float64      `json:"confidence"`
	Resamples   int          `json:"resamples"`
}

// Difference is the change of one metric from version A to version B with its
// bootstrap confidence interval.
type Difference struct {
	Metric string  `json:"metric"`
	A      float64 `json:"a"`
	B      float64 `json:"b"`
	Diff   float64 `json:"diff"` // B − A
	Lower  float64 `json:"lower"`
	Upper  float64 `json:"upper"`
	// Better is "a" or "b" when the interval excludes zero and the metric has a
	// direction (lower MAE and RMSE, higher R²), else "". Bias and coverage have
	// none: a bias moving from −0.1 to +0.1 is a change, not an improvement.
	Better string `json:"better,omitempty"`
}

// Compare scores versions a and b on the same labelled rows and bootstraps the
// difference of each metric: groups (sessions; rows when a.Group is nil) are drawn
// with replacement, both versions are scored on each resample, and the interval is
// the percentile interval of B − A. Only rows usable in both versions count. The
// labels of a and b must match row for row, else ErrShape.
func Compare(a, b Predictions, opt BootstrapOptions) (Comparison, error) {
	opt = opt.withDefaults()
	if err := checkPaired(&a, &b); err != nil {
		return Comparison{}, fmt.Errorf("compare: %w", err)
	}
	groups := pairedGroupSums(&a, &b)
	if len(groups) == 0 {
		return Comparison{}, fmt.Errorf("compare: %w", ErrNoRows)
	}

	var totA, totB sums
	for _, g := range groups {
		totA.merge(&g[0], 1)
		totB.merge(&g[1], 1)
	}
	c := Comparison{Rows: int(totA.n), Groups: len(groups), A: totA.metrics(),
		B: totB.metrics(), Confidence: opt.Confidence, Resamples: opt.Resamples,
		Method: "paired percentile bootstrap over groups"}
	if a.Group == nil {
		c.Method = "paired percentile bootstrap over rows"
	}

	draws := bootstrapDiffs(groups, opt)
	for _, name := range []string{MetricMAE, MetricRMSE, MetricBias, MetricR2, MetricCoverage} {
		va, okA := metricValue(c.A, name)
		vb, okB := metricValue(c.B, name)
		if !okA || !okB {
			continue
		}
		d := Difference{Metric: name, A: va, B: vb, Diff: vb - va}
		d.Lower, d.Upper = percentileInterval(draws[name], opt.Confidence)
		d.Better = better(name, d)
		c.Differences = append(c.Differences, d)
	}
	return c, nil
}

// checkPaired checks that two sets of predictions cover the same labelled rows.
func checkPaired(a, b *Predictions) error {
	if err := a.check(); err != nil {
		return fmt.Errorf("version a: %w", err)
	}
	if err := b.check(); err != nil {
		return fmt.Errorf("version b: %w", err)
	}
	if len(a.Label) != len(b.Label) {
		return fmt.Errorf("%w: %d and %d rows", ErrShape, len(a.Label), len(b.Label))
	}
	for i := range a.Label {
		if x, y := a.Label[i], b.Label[i]; x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
			return fmt.Errorf("%w: labels differ at row %d", ErrShape, i)
		}
	}
	if a.Group == nil && b.Group != nil {
		a.Group = b.Group
	}
	return nil
}

// pairedGroupSums returns per group the sums of a and b over the rows both can score,
// in first-seen group order; groups without such a row are dropped.
func pairedGroupSums(a, b *Predictions) [][2]sums {
	k := a.shift()
	index := make(map[string]int)
	var out [][2]sums
	for i := range a.Label {
		if !a.usable(i) || !b.usable(i) {
			continue
		}
		g := len(out)
		if a.Group != nil {
			var ok bool
			if g, ok = index[a.Group[i]]; !ok {
				g = len(out)
				index[a.Group[i]] = g
			}
		}
		if g == len(out) {
			out = append(out, [2]sums{})
		}
		out[g][0].add(a, i, k)
		out[g][1].add(b, i, k)
	}
	return out
}

// bootstrapDiffs returns, per metric, the B − A differences over the resamples that
// define the metric in both versions.
func bootstrapDiffs(groups [][2]sums, opt BootstrapOptions) map[string][]float64 {
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5eed))
	draws := make(map[string][]float64)
	for range opt.Resamples {
		var sa, sb sums
		for range groups {
			g := &groups[rng.IntN(len(groups))]
			sa.merge(&g[0], 1)
			sb.merge(&g[1], 1)
		}
		ma, mb := sa.metrics(), sb.metrics()
		for _, name := range []string{MetricMAE, MetricRMSE, MetricBias, MetricR2,
			MetricCoverage} {
			va, okA := metricValue(ma, name)
			vb, okB := metricValue(mb, name)
			if okA && okB {
				draws[name] = append(draws[name], vb-va)
			}
		}
	}
	return draws
}

// metricValue returns a named metric and whether m defines it.
func metricValue(m Metrics, name string) (float64, bool) {
	switch name {
	case MetricMAE:
		return m.MAE, true
	case MetricRMSE:
		return m.RMSE, true
	case MetricBias:
		return m.Bias, true
	case MetricR2:
		if m.R2 != nil {
			return *m.R2, true
		}
	case MetricCoverage:
		if m.Coverage != nil {
			return *m.Coverage, true
		}
	}
	return 0, false
}

// percentileInterval returns the central interval of the given confidence of the
// draws, interpolating between order statistics; (0, 0) for no draws.
func percentileInterval(draws []float64, confidence float64) (lo, hi float64) {
	if len(draws) == 0 {
		return 0, 0
	}
	sorted := slices.Sorted(slices.Values(draws))
	tail := (1 - confidence) / 2
	return quantile(sorted, tail), quantile(sorted, 1-tail)
}

// quantile returns the p-quantile of a sorted non-empty sample, interpolating
// linearly at (n−1)·p as NumPy does by default.
func quantile(sorted []float64, p float64) float64 {
	h := float64(len(sorted)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := h - float64(lo)
	return sorted[lo]*(1-f) + sorted[lo+1]*f
}

// better names the version a significant difference favours.
func better(metric string, d Difference) string {
	if d.Lower <= 0 && d.Upper >= 0 {
		return ""
	}
	switch metric {
	case MetricMAE, MetricRMSE:
		return pick(d.Diff < 0)
	case MetricR2:
		return pick(d.Diff > 0)
	}
	return ""
}

func pick(b bool) string {
	if b {
		return "b"
	}
	return "a"
}
