package drift

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// ProfileFormat is the version of the Profile JSON layout this package writes.
const ProfileFormat = 1

// Kind says whether a feature holds numbers or categories.
type Kind string

// The feature kinds.
const (
	Numeric     Kind = "numeric"
	Categorical Kind = "categorical"
)

// QuantileProbs are the probabilities at which a Profile records quantiles.
var QuantileProbs = []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99}

// Profile is the reference distribution of every feature of a model's training data.
// The registry stores it as opaque JSON with each model version; DecodeProfile reads
// it back.
type Profile struct {
	Format   int              `json:"format"`
	Rows     int64            `json:"rows"`
	Features []FeatureProfile `json:"features"`
}

// FeatureProfile is the reference distribution of one feature.
type FeatureProfile struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Count is the number of present values; Missing the number of missing ones
	// (NaN, ±Inf, or the empty category).
	Count        int64   `json:"count"`
	Missing      int64   `json:"missing"`
	MissingShare float64 `json:"missing_share"`

	// Numeric features only. Min, Max, Mean and Std (population) are 0 when Count
	// is 0.
	Min       float64    `json:"min,omitempty"`
	Max       float64    `json:"max,omitempty"`
	Mean      float64    `json:"mean,omitempty"`
	Std       float64    `json:"std,omitempty"`
	Quantiles []Quantile `json:"quantiles,omitempty"`
	// Edges are the inner bin edges, strictly increasing; Counts has one more entry:
	// the values below Edges[0], then each [Edges[i], Edges[i+1]), then the values
	// at or above the last edge.
	Edges  []float64 `json:"edges,omitempty"`
	Counts []int64   `json:"counts,omitempty"`
	// Sample holds the present values, sorted, when there are at most
	// ProfileOptions.SampleSize of them, and otherwise that many quantiles at evenly
	// spaced probabilities. KS and Wasserstein compare it with the live reservoir;
	// with quantiles KS's p-value counts SampleSize reference values, which is
	// conservative.
	Sample []float64 `json:"sample,omitempty"`
	// Levels lists every distinct value, ascending, when there are few enough to
	// treat the feature as categorical (see ProfileOptions.MaxLevels).
	Levels []float64 `json:"levels,omitempty"`

	// Categories are the category names (the levels, formatted, for a discrete
	// numeric feature), most frequent first for categorical features, and
	// CategoryCounts their counts. Other counts the categories beyond
	// ProfileOptions.MaxCategories.
	Categories     []string `json:"categories,omitempty"`
	CategoryCounts []int64  `json:"category_counts,omitempty"`
	Other          int64    `json:"other,omitempty"`
}

// Quantile is the value at probability P of a feature's distribution.
type Quantile struct {
	P     float64 `json:"p"`
	Value float64 `json:"value"`
}

// Discrete reports whether the feature is compared by category: a categorical
// feature, or a numeric one with few distinct values.
func (f *FeatureProfile) Discrete() bool { return f.Kind == Categorical || len(f.Levels) > 0 }

// Column is one feature's training data for BuildProfile: Values for a numeric
// feature (NaN or ±Inf where missing), Categories for a categorical one ("" where
// missing). Exactly one of them is set.
type Column struct {
	Name       string
	Values     []float64
	Categories []string
}

// ProfileOptions shape a Profile. A zero field selects the default.
type ProfileOptions struct {
	// Bins is the number of quantile bins of a numeric histogram; ties merge bins.
	// Default 10.
	Bins int
	// SampleSize is the most values a feature's Sample keeps. Default 2000.
	SampleSize int
	// MaxLevels is the most distinct values a numeric feature may have to be
	// compared as categories. Default 5, as Evidently; negative disables it.
	MaxLevels int
	// MaxCategories is the most categories a categorical feature lists; the rarer
	// ones are counted in Other. Default 100.
	MaxCategories int
}

func (o ProfileOptions) withDefaults() ProfileOptions {
	if o.Bins <= 0 {
		o.Bins = 10
	}
	if o.SampleSize <= 0 {
		o.SampleSize = 2000
	}
	if o.MaxLevels == 0 {
		o.MaxLevels = 5
	}
	if o.MaxCategories <= 0 {
		o.MaxCategories = 100
	}
	return o
}

// BuildProfile summarises training data, one Column per feature.
func BuildProfile(cols []Column, opt ProfileOptions) (*Profile, error) {
	opt = opt.withDefaults()
	p := &Profile{Format: ProfileFormat, Features: make([]FeatureProfile, len(cols))}
	seen := make(map[string]bool, len(cols))
	for i, c := range cols {
		if c.Name == "" || seen[c.Name] {
			return nil, fmt.Errorf("build profile: %w: column %d has an empty or repeated "+
				"name %q", ErrInvalid, i, c.Name)
		}
		seen[c.Name] = true
		if (c.Values == nil) == (c.Categories == nil) {
			return nil, fmt.Errorf("build profile: %w: column %q needs values or "+
				"categories, not both", ErrInvalid, c.Name)
		}
		rows := int64(len(c.Values) + len(c.Categories))
		if i > 0 && rows != p.Rows {
			return nil, fmt.Errorf("build profile: %w: column %q has %d rows, not %d",
				ErrMismatch, c.Name, rows, p.Rows)
		}
		p.Rows = rows

		if c.Values != nil {
			p.Features[i] = numericProfile(c.Name, c.Values, opt)
		} else {
			p.Features[i] = categoricalProfile(c.Name, c.Categories, opt)
		}
	}
	return p, nil
}

// numericProfile summarises one numeric column.
func numericProfile(name string, values []float64, opt ProfileOptions) FeatureProfile {
	sorted := sortedFinite(values)
	f := FeatureProfile{Name: name, Kind: Numeric, Count: int64(len(sorted))}
	f.Missing = int64(len(values)) - f.Count
	f.MissingShare = share(f.Missing, int64(len(values)))
	if len(sorted) == 0 {
		return f
	}

	f.Min, f.Max = sorted[0], sorted[len(sorted)-1]
	s := scaleOf(sorted)
	mean, std := meanStd(scaled(sorted, s))
	f.Mean, f.Std = clampFinite(mean*s), clampFinite(std*s)
	for _, p := range QuantileProbs {
		f.Quantiles = append(f.Quantiles, Quantile{P: p, Value: quantile(sorted, p)})
	}

	f.Edges = quantileEdges(sorted, opt.Bins)
	f.Counts = make([]int64, len(f.Edges)+1)
	for _, v := range sorted {
		f.Counts[binOf(f.Edges, v)]++
	}
	f.Sample = sampleOf(sorted, opt.SampleSize)
	if opt.MaxLevels > 0 {
		setLevels(&f, sorted, opt.MaxLevels)
	}
	return f
}

// setLevels gives f its levels and their counts when the sorted sample has at most
// limit distinct values.
func setLevels(f *FeatureProfile, sorted []float64, limit int) {
	levels := distinct(sorted, limit)
	if levels == nil {
		return
	}
	f.Levels = levels
	f.Categories = make([]string, len(levels))
	f.CategoryCounts = make([]int64, len(levels))
	for i, l := range levels {
		f.Categories[i] = strconv.FormatFloat(l, 'g', -1, 64)
	}
	for _, v := range sorted {
		f.CategoryCounts[levelOf(levels, v)]++
	}
}

// categoricalProfile summarises one categorical column.
func categoricalProfile(name string, cats []string, opt ProfileOptions) FeatureProfile {
	f := FeatureProfile{Name: name, Kind: Categorical}
	counts := make(map[string]int64)
	for _, c := range cats {
		if c == "" {
			f.Missing++
			continue
		}
		counts[c]++
	}
	f.Count = int64(len(cats)) - f.Missing
	f.MissingShare = share(f.Missing, int64(len(cats)))

	names := make([]string, 0, len(counts))
	for c := range counts {
		names = append(names, c)
	}
	// Most frequent first, ties by name, so that the profile is reproducible.
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for i, c := range names {
		if i >= opt.MaxCategories {
			f.Other += counts[c]
			continue
		}
		f.Categories = append(f.Categories, c)
		f.CategoryCounts = append(f.CategoryCounts, counts[c])
	}
	return f
}

// quantileEdges returns the distinct inner edges of bins equal in count.
func quantileEdges(sorted []float64, bins int) []float64 {
	var edges []float64
	for k := 1; k < bins; k++ {
		e := quantile(sorted, float64(k)/float64(bins))
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	if len(edges) == 0 {
		// A constant feature still gets one edge, at its value, so that live values
		// below it land in their own bin.
		edges = []float64{sorted[0]}
	}
	return edges
}

// quantile returns the p-quantile of a non-empty sorted sample by linear
// interpolation between order statistics at (n−1)·p, the definition NumPy and pandas
// use by default. The weighted form cannot overflow.
func quantile(sorted []float64, p float64) float64 {
	h := float64(len(sorted)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := h - float64(lo)
	q := sorted[lo]*(1-f) + sorted[lo+1]*f
	return min(max(q, sorted[lo]), sorted[lo+1])
}

// binOf returns the histogram bin of v: the number of edges at or below it.
func binOf(edges []float64, v float64) int {
	lo, hi := 0, len(edges)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if edges[mid] <= v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// levelOf returns the index of v in levels, or len(levels) when absent.
func levelOf(levels []float64, v float64) int {
	for i, l := range levels {
		if l == v {
			return i
		}
	}
	return len(levels)
}

// distinct returns the distinct values of a sorted sample when there are at most
// limit of them, and nil otherwise.
func distinct(sorted []float64, limit int) []float64 {
	var out []float64
	for i, v := range sorted {
		if i > 0 && v == sorted[i-1] {
			continue
		}
		if len(out) == limit {
			return nil
		}
		out = append(out, v)
	}
	return out
}

// sampleOf returns the sorted values themselves when there are at most size of them,
// and otherwise size quantiles at the probabilities (i + ½)/size: a stand-in sample
// that follows the full distribution without the noise of random sampling.
func sampleOf(sorted []float64, size int) []float64 {
	if len(sorted) <= size {
		return slices.Clone(sorted)
	}
	out := make([]float64, size)
	for i := range out {
		out[i] = quantile(sorted, (float64(i)+0.5)/float64(size))
	}
	return out
}

func share(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// Index returns the position of the named feature.
func (p *Profile) Index(name string) (int, bool) {
	for i := range p.Features {
		if p.Features[i].Name == name {
			return i, true
		}
	}
	return 0, false
}

// Names returns the feature names in order.
func (p *Profile) Names() []string {
	out := make([]string, len(p.Features))
	for i := range p.Features {
		out[i] = p.Features[i].Name
	}
	return out
}

// DecodeProfile reads a Profile from its JSON form and checks it (see Validate).
func DecodeProfile(data []byte) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode profile: %w: %w", ErrInvalid, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("decode profile: %w", err)
	}
	return &p, nil
}

// Validate checks that a profile is internally consistent, so that a Monitor and a
// Report built on it cannot fail or produce a non-finite number. Errors wrap
// ErrInvalid.
func (p *Profile) Validate() error {
	if p.Format != ProfileFormat {
		return fmt.Errorf("%w: profile format %d, want %d", ErrInvalid, p.Format, ProfileFormat)
	}
	seen := make(map[string]bool, len(p.Features))
	for i := range p.Features {
		f := &p.Features[i]
		if f.Name == "" || seen[f.Name] {
			return fmt.Errorf("%w: feature %d has an empty or repeated name", ErrInvalid, i)
		}
		seen[f.Name] = true
		if err := f.validate(); err != nil {
			return fmt.Errorf("%w: feature %q: %w", ErrInvalid, f.Name, err)
		}
	}
	return nil
}

// validate checks one feature's fields against each other.
func (f *FeatureProfile) validate() error {
	if f.Count < 0 || f.Missing < 0 || f.Count > math.MaxInt64-f.Missing {
		return fmt.Errorf("bad counts %d and %d", f.Count, f.Missing)
	}
	if !(f.MissingShare >= 0 && f.MissingShare <= 1) {
		return fmt.Errorf("missing share %v outside [0, 1]", f.MissingShare)
	}
	switch f.Kind {
	case Numeric:
		return f.validateNumeric()
	case Categorical:
		if len(f.Edges) > 0 || len(f.Levels) > 0 || len(f.Sample) > 0 {
			return fmt.Errorf("categorical feature with numeric fields")
		}
		return f.validateCategories(f.Count)
	}
	return fmt.Errorf("unknown kind %q", f.Kind)
}

func (f *FeatureProfile) validateNumeric() error {
	for _, v := range []float64{f.Min, f.Max, f.Mean, f.Std} {
		if !finite(v) {
			return fmt.Errorf("non-finite summary value")
		}
	}
	for _, q := range f.Quantiles {
		if !finite(q.P) || !finite(q.Value) {
			return fmt.Errorf("non-finite quantile")
		}
	}
	if f.Count == 0 {
		if len(f.Edges)+len(f.Counts)+len(f.Sample)+len(f.Levels)+len(f.Categories) > 0 {
			return fmt.Errorf("distribution given for a feature without values")
		}
		return nil
	}
	if len(f.Edges) == 0 || len(f.Counts) != len(f.Edges)+1 {
		return fmt.Errorf("%d edges and %d counts", len(f.Edges), len(f.Counts))
	}
	if !strictlyIncreasing(f.Edges) || !sortedFiniteSlice(f.Sample) || len(f.Sample) == 0 {
		return fmt.Errorf("edges or sample not finite and sorted, or sample empty")
	}
	if err := sumTo(f.Counts, f.Count); err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	if len(f.Levels) == 0 {
		if len(f.Categories) > 0 || len(f.CategoryCounts) > 0 || f.Other != 0 {
			return fmt.Errorf("categories without levels")
		}
		return nil
	}
	if !strictlyIncreasing(f.Levels) || len(f.Categories) != len(f.Levels) || f.Other != 0 {
		return fmt.Errorf("levels do not match their categories")
	}
	return f.validateCategories(f.Count)
}

func (f *FeatureProfile) validateCategories(count int64) error {
	if len(f.Categories) != len(f.CategoryCounts) || f.Other < 0 {
		return fmt.Errorf("%d categories and %d counts", len(f.Categories),
			len(f.CategoryCounts))
	}
	names := make(map[string]bool, len(f.Categories))
	for _, c := range f.Categories {
		if c == "" || names[c] {
			return fmt.Errorf("empty or repeated category")
		}
		names[c] = true
	}
	if err := sumTo(append(slices.Clone(f.CategoryCounts), f.Other), count); err != nil {
		return fmt.Errorf("categories: %w", err)
	}
	return nil
}

// sumTo checks that counts are non-negative and add up to want without overflow.
func sumTo(counts []int64, want int64) error {
	var sum int64
	for _, c := range counts {
		if c < 0 || sum > math.MaxInt64-c {
			return fmt.Errorf("negative or overflowing count")
		}
		sum += c
	}
	if sum != want {
		return fmt.Errorf("counts add up to %d, not %d", sum, want)
	}
	return nil
}

func strictlyIncreasing(xs []float64) bool {
	for i, x := range xs {
		if !finite(x) || (i > 0 && x <= xs[i-1]) {
			return false
		}
	}
	return true
}

func sortedFiniteSlice(xs []float64) bool {
	for i, x := range xs {
		if !finite(x) || (i > 0 && x < xs[i-1]) {
			return false
		}
	}
	return true
}
