package drift

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// MinShare is the share PSI gives a bin that holds less than it (an empty bin would
// make the logarithm infinite). Evidently and most PSI write-ups use the same floor.
const MinShare = 1e-4

// Level grades a PSI value.
type Level string

// The PSI levels, with the usual cut-offs 0.1 and 0.25 (see Options).
const (
	LevelNone     Level = "none"
	LevelModerate Level = "moderate"
	LevelMajor    Level = "major"
)

// PSI returns the population stability index of live against ref, two histograms of
// counts on the same bins: Σ (l − r)·ln(l / r) over the bins' shares, each share
// floored at MinShare. It is 0 for identical shares and grows without a fixed bound.
func PSI(ref, live []float64) (float64, error) {
	p, q, err := sharePair(ref, live)
	if err != nil {
		return 0, fmt.Errorf("psi: %w", err)
	}
	var psi float64
	for i := range p {
		r, l := max(p[i], MinShare), max(q[i], MinShare)
		psi += (l - r) * math.Log(l/r)
	}
	return psi, nil
}

// PSILevel grades psi against the moderate and major cut-offs.
func PSILevel(psi, moderate, major float64) Level {
	switch {
	case psi >= major:
		return LevelMajor
	case psi >= moderate:
		return LevelModerate
	}
	return LevelNone
}

// JensenShannon returns the Jensen–Shannon distance between two histograms of counts
// on the same bins: the square root of the Jensen–Shannon divergence in base 2, so it
// lies in [0, 1], 0 for identical shares and 1 for disjoint ones.
func JensenShannon(ref, live []float64) (float64, error) {
	p, q, err := sharePair(ref, live)
	if err != nil {
		return 0, fmt.Errorf("jensen-shannon: %w", err)
	}
	var div float64
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			div += p[i] * math.Log2(p[i]/m) / 2
		}
		if q[i] > 0 {
			div += q[i] * math.Log2(q[i]/m) / 2
		}
	}
	// Rounding can push the divergence a hair outside [0, 1].
	return math.Sqrt(min(max(div, 0), 1)), nil
}

// ChiSquareResult is the outcome of a chi-square test of homogeneity.
type ChiSquareResult struct {
	Statistic float64 `json:"statistic"`
	DF        int     `json:"df"`      // degrees of freedom: categories seen − 1
	PValue    float64 `json:"p_value"` // upper tail of the chi-square distribution
}

// ChiSquare tests whether two histograms of counts over the same categories come from
// one distribution: Pearson's chi-square test of homogeneity on the 2×k table.
// Categories empty in both are left out, so a category seen only live is fine. With a
// single category the statistic is 0 with 0 degrees of freedom and p-value 1.
//
// Evidently compares the live counts with the reference shares (a goodness-of-fit
// test); the homogeneity test used here also allows for the reference's own sampling
// noise and, unlike goodness of fit, stays defined for categories unseen in the
// reference. For two categories it equals the pooled two-proportion z-test.
func ChiSquare(ref, live []float64) (ChiSquareResult, error) {
	p, q, err := sharePair(ref, live)
	if err != nil {
		return ChiSquareResult{}, fmt.Errorf("chi-square: %w", err)
	}
	nRef, nLive, unit := totals(ref, live)

	// With row weights w = n_row / N, the statistic is N · Σ (share − pooled)² · w /
	// pooled over both rows; computing it on shares keeps huge counts finite.
	wRef := nRef / (nRef + nLive)
	wLive := 1 - wRef
	var x float64
	k := 0
	for i := range p {
		pooled := wRef*p[i] + wLive*q[i]
		if pooled == 0 {
			continue
		}
		k++
		x += wRef * (p[i] - pooled) * (p[i] - pooled) / pooled
		x += wLive * (q[i] - pooled) * (q[i] - pooled) / pooled
	}
	x = clampFinite(x * (nRef + nLive) * unit)

	res := ChiSquareResult{Statistic: x, DF: k - 1, PValue: 1}
	if res.DF > 0 {
		res.PValue = clampUnit(distuv.ChiSquared{K: float64(res.DF)}.Survival(x))
	}
	return res, nil
}

// sharePair checks that two histograms match and returns their shares.
func sharePair(ref, live []float64) (p, q []float64, err error) {
	if len(ref) != len(live) {
		return nil, nil, fmt.Errorf("%w: %d reference bins, %d live bins",
			ErrMismatch, len(ref), len(live))
	}
	if p, err = shares(ref); err != nil {
		return nil, nil, fmt.Errorf("reference: %w", err)
	}
	if q, err = shares(live); err != nil {
		return nil, nil, fmt.Errorf("live: %w", err)
	}
	return p, q, nil
}

// totals returns the sums of two validated histograms as t·a and t·b with a and b
// at most the number of bins, so that neither sum can overflow.
func totals(ref, live []float64) (a, b, t float64) {
	for _, c := range ref {
		t = max(t, c)
	}
	for _, c := range live {
		t = max(t, c)
	}
	for _, c := range ref {
		a += c / t
	}
	for _, c := range live {
		b += c / t
	}
	return a, b, t
}

// clampUnit keeps a probability within [0, 1] and maps NaN to 1, the answer that
// never claims drift.
func clampUnit(p float64) float64 {
	if math.IsNaN(p) {
		return 1
	}
	return min(max(p, 0), 1)
}
