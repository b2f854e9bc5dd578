package training

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// Imputer replaces missing feature values (NaN) with the mean of the values present
// in the training rows, and bounds every value to the range the training rows cover.
// The server fills a missing input with the same vector and the exported graph applies
// the same bounds, so a fitted model never sees a NaN nor extrapolates far beyond its
// data (a watch's temperature on a cold day, an unseen pace).
type Imputer struct {
	// Means holds, per feature, the mean of the present training values; 0 when the
	// feature was never present.
	Means []float64
	// Lower and Upper hold, per feature, the BoundQuantile and 1 − BoundQuantile
	// quantiles of the present training values; the mean when none was present.
	Lower, Upper []float64
	// Missing counts, per feature, the training rows where the value was missing.
	Missing []int
	// Rows is the number of training rows the imputer was fitted on.
	Rows int
}

// BoundQuantile is the share of training values left below the lower bound and
// above the upper bound of each feature.
const BoundQuantile = 0.005

// FitImputer learns the per-feature means, bounds and missing counts of x.
func FitImputer(x *mat.Dense) Imputer {
	n, k := x.Dims()
	im := Imputer{Means: make([]float64, k), Lower: make([]float64, k),
		Upper: make([]float64, k), Missing: make([]int, k), Rows: n}
	col := make([]float64, 0, n)
	for j := range k {
		col = col[:0]
		var sum float64
		for i := range n {
			v := x.At(i, j)
			if math.IsNaN(v) {
				im.Missing[j]++
				continue
			}
			sum += v
			col = append(col, v)
		}
		if len(col) == 0 {
			continue
		}
		im.Means[j] = sum / float64(len(col))
		slices.Sort(col)
		im.Lower[j] = stat.Quantile(BoundQuantile, stat.Empirical, col, nil)
		im.Upper[j] = stat.Quantile(1-BoundQuantile, stat.Empirical, col, nil)
	}
	return im
}

// MissingShare returns, per feature, the share of training rows where it was missing.
func (im Imputer) MissingShare() []float64 {
	share := make([]float64, len(im.Missing))
	if im.Rows == 0 {
		return share
	}
	for j, m := range im.Missing {
		share[j] = float64(m) / float64(im.Rows)
	}
	return share
}

// Fill returns a copy of x with every NaN replaced by its feature's mean and every
// value bounded to its feature's training range.
func (im Imputer) Fill(x *mat.Dense) *mat.Dense {
	out := mat.DenseCopyOf(x)
	n, k := out.Dims()
	for i := range n {
		row := out.RawRowView(i)
		for j := range k {
			if math.IsNaN(row[j]) {
				row[j] = im.Means[j]
			}
			if im.Lower != nil {
				row[j] = min(max(row[j], im.Lower[j]), im.Upper[j])
			}
		}
	}
	return out
}
