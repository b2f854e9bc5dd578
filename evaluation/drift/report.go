package drift

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Status says whether a feature (or a time bucket) got a verdict.
type Status string

// The statuses of a FeatureResult or TimePoint.
const (
	StatusOK            Status = "ok"
	StatusNotEnoughData Status = "not_enough_data"
	// StatusNotApplicable marks a test that cannot run on the feature, such as KS
	// forced on a categorical feature through Options.Tests.
	StatusNotApplicable Status = "not_applicable"
)

// Report compares live data with the reference, feature by feature.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Title names what was compared, for example a model and version; the caller
	// sets it.
	Title   string  `json:"title,omitempty"`
	Options Options `json:"options"`
	// From and To span the time buckets kept (To is the end of the last one); zero
	// when there are none.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// LiveRows counts the rows observed; LateRows those in no bucket kept (too old
	// on arrival, or dropped past MaxBuckets), which count in the totals but not in
	// the timeline.
	LiveRows int64 `json:"live_rows"`
	LateRows int64 `json:"late_rows"`

	// Evaluated counts the features with a verdict, Drifted those that drift, and
	// DriftedShare is Drifted/Evaluated (0 when none was evaluated).
	Evaluated    int     `json:"evaluated"`
	Drifted      int     `json:"drifted"`
	DriftedShare float64 `json:"drifted_share"`
	DatasetDrift bool    `json:"dataset_drift"`

	// Features lists drifted features first (by PSI, highest first), then the
	// others, then those without a verdict.
	Features []FeatureResult `json:"features"`
	// Timeline gives per time bucket the share of features whose PSI reaches
	// Options.PSIModerate. PSI on B bins of n values has a noise floor near
	// (B − 1)/n even without drift, about 0.09 for 10 bins and 100 values, so
	// buckets need around a thousand rows before this series means much.
	Timeline []TimePoint `json:"timeline"`

	// Sections are further tables the caller adds, such as the realised accuracy of
	// each version once labels arrived; the HTML shows them after the summary.
	Sections []Section `json:"sections,omitempty"`
}

// Section is a titled table of text cells added to a report.
type Section struct {
	Title   string     `json:"title"`
	Note    string     `json:"note,omitempty"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// FeatureResult is the verdict on one feature.
type FeatureResult struct {
	Name   string `json:"name"`
	Kind   Kind   `json:"kind"`
	Test   Method `json:"test"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"` // why there is no verdict
	// Score is the test's p-value (KS, chi-square) or distance (the others), and
	// Statistic the KS D or the chi-square value (the distance again otherwise).
	Score     float64 `json:"score"`
	Statistic float64 `json:"statistic"`
	Threshold float64 `json:"threshold"`
	Drift     bool    `json:"drift"`
	// PSI is computed for every feature with a histogram, whatever its test.
	PSI      float64 `json:"psi"`
	PSILevel Level   `json:"psi_level"`

	Reference Summary `json:"reference"`
	Live      Summary `json:"live"`
	// Bins are the shares of reference and live values per bin or category, and
	// Edges the inner bin edges of a numeric feature compared by bins.
	Bins     []Bin       `json:"bins,omitempty"`
	Edges    []float64   `json:"edges,omitempty"`
	Timeline []TimePoint `json:"timeline,omitempty"`
}

// Summary counts one side's values.
type Summary struct {
	Count        int64   `json:"count"`
	Missing      int64   `json:"missing"`
	MissingShare float64 `json:"missing_share"`
	Min          float64 `json:"min,omitempty"` // numeric features with values only
	Max          float64 `json:"max,omitempty"`
}

// Bin is one bar of a distribution: a range of values or a category.
type Bin struct {
	Label     string  `json:"label"`
	Reference float64 `json:"reference"` // share of the reference's present values
	Live      float64 `json:"live"`
}

// TimePoint is one time bucket of a drift-over-time series. For a feature, Value is
// its PSI in the bucket; for the dataset, the share of features whose PSI reaches the
// moderate level.
type TimePoint struct {
	Start  time.Time `json:"start"`
	Rows   int64     `json:"rows"`
	Status Status    `json:"status"`
	Value  float64   `json:"value"`
}

// Report compares everything the monitor has seen with its profile.
func (m *Monitor) Report(opt Options) *Report {
	opt = opt.withDefaults()
	total, buckets, late := m.snapshot()
	r := &Report{GeneratedAt: time.Now().UTC(), Options: opt, LateRows: late}
	if len(buckets) > 0 {
		r.From = buckets[0].start
		r.To = buckets[len(buckets)-1].start.Add(m.opt.BucketWidth)
	}
	for _, b := range buckets {
		r.LiveRows += b.rows
	}
	r.LiveRows += late

	for i := range m.profile.Features {
		f := &m.profile.Features[i]
		fr := featureResult(f, total[i], opt)
		fr.Timeline = featureTimeline(f, i, buckets, opt)
		r.Features = append(r.Features, fr)
		if fr.Status == StatusOK {
			r.Evaluated++
			if fr.Drift {
				r.Drifted++
			}
		}
	}
	if r.Evaluated > 0 {
		r.DriftedShare = float64(r.Drifted) / float64(r.Evaluated)
		r.DatasetDrift = r.DriftedShare >= opt.DatasetShare
	}
	r.Timeline = datasetTimeline(r.Features, buckets, opt)
	slices.SortStableFunc(r.Features, compareResults)
	return r
}

// compareResults orders drifted features first, then the other evaluated ones, then
// those without a verdict; by PSI within a group, then by name.
func compareResults(a, b FeatureResult) int {
	rank := func(f FeatureResult) int {
		switch {
		case f.Status != StatusOK:
			return 2
		case f.Drift:
			return 0
		}
		return 1
	}
	if c := cmp.Compare(rank(a), rank(b)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.PSI, a.PSI); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// featureResult runs a feature's test on its total sketch.
func featureResult(f *FeatureProfile, s *Sketch, opt Options) FeatureResult {
	test, th := opt.testFor(f)
	fr := FeatureResult{Name: f.Name, Kind: f.Kind, Test: test, Threshold: th,
		Status: StatusOK, PSILevel: LevelNone}
	fr.Reference = Summary{Count: f.Count, Missing: f.Missing, MissingShare: f.MissingShare}
	if f.Kind == Numeric && f.Count > 0 {
		fr.Reference.Min, fr.Reference.Max = f.Min, f.Max
	}
	fr.Live = Summary{Count: s.count, Missing: s.missing,
		MissingShare: share(s.missing, s.count+s.missing)}
	if s.kind == Numeric && s.count > 0 {
		fr.Live.Min, fr.Live.Max = s.lo, s.hi
	}

	labels, ref, live := s.histogram(f)
	fr.Bins = binShares(labels, ref, live)
	if !f.Discrete() {
		fr.Edges = f.Edges
	}
	if f.Count < int64(opt.MinCount) || s.count < int64(opt.MinCount) {
		fr.Status = StatusNotEnoughData
		fr.Reason = fmt.Sprintf("needs %d values on each side; the reference has %d, "+
			"the live data %d", opt.MinCount, f.Count, s.count)
		return fr
	}
	if test.needsSample() && f.Kind == Categorical {
		fr.Status = StatusNotApplicable
		fr.Reason = fmt.Sprintf("%s needs numbers; %q is categorical", test, f.Name)
		return fr
	}

	if psi, err := PSI(ref, live); err == nil {
		fr.PSI, fr.PSILevel = psi, PSILevel(psi, opt.PSIModerate, opt.PSIMajor)
	}
	var err error
	fr.Score, fr.Statistic, err = runTest(test, f, s, ref, live)
	if err != nil {
		fr.Status = StatusNotEnoughData
		if !errors.Is(err, ErrNotEnoughData) {
			fr.Status = StatusNotApplicable
		}
		fr.Reason = err.Error()
		return fr
	}
	if test.PValue() {
		fr.Drift = fr.Score < th
	} else {
		fr.Drift = fr.Score >= th
	}
	return fr
}

// runTest returns a test's score and statistic.
func runTest(t Method, f *FeatureProfile, s *Sketch, ref, live []float64) (score,
	statistic float64, err error) {
	switch t {
	case MethodKS:
		res, err := KS(f.Sample, s.reservoir)
		return res.PValue, res.D, err
	case MethodWasserstein:
		w, err := WassersteinNormalized(f.Sample, s.reservoir)
		return w, w, err
	case MethodChiSquare:
		res, err := ChiSquare(ref, live)
		return res.PValue, res.Statistic, err
	case MethodJensenShannon:
		d, err := JensenShannon(ref, live)
		return d, d, err
	}
	psi, err := PSI(ref, live)
	return psi, psi, err
}

// binShares pairs the reference and live shares of each bin.
func binShares(labels []string, ref, live []float64) []Bin {
	p, errRef := shares(ref)
	q, errLive := shares(live)
	bins := make([]Bin, len(labels))
	for i, l := range labels {
		bins[i].Label = l
		if errRef == nil {
			bins[i].Reference = p[i]
		}
		if errLive == nil {
			bins[i].Live = q[i]
		}
	}
	return bins
}

// featureTimeline returns the PSI of feature i in each time bucket.
func featureTimeline(f *FeatureProfile, i int, buckets []bucket, opt Options) []TimePoint {
	out := make([]TimePoint, len(buckets))
	for k, b := range buckets {
		s := b.sketches[i]
		out[k] = TimePoint{Start: b.start, Rows: b.rows, Status: StatusNotEnoughData}
		if f.Count < int64(opt.MinCount) || s.count < int64(opt.MinCount) {
			continue
		}
		_, ref, live := s.histogram(f)
		if psi, err := PSI(ref, live); err == nil {
			out[k].Status, out[k].Value = StatusOK, psi
		}
	}
	return out
}

// datasetTimeline returns per bucket the share of features, among those with enough
// data in it, whose PSI reaches the moderate level.
func datasetTimeline(fs []FeatureResult, buckets []bucket, opt Options) []TimePoint {
	out := make([]TimePoint, len(buckets))
	for k, b := range buckets {
		out[k] = TimePoint{Start: b.start, Rows: b.rows, Status: StatusNotEnoughData}
		var evaluated, shifted int
		for _, f := range fs {
			if p := f.Timeline[k]; p.Status == StatusOK {
				evaluated++
				if p.Value >= opt.PSIModerate {
					shifted++
				}
			}
		}
		if evaluated > 0 {
			out[k].Status = StatusOK
			out[k].Value = float64(shifted) / float64(evaluated)
		}
	}
	return out
}
