package training

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// Imputer replaces missing feature values (NaN) with the mean of the values present
// in the training rows. The server fills a missing input with the same vector, so a
// fitted model never sees a NaN.
type Imputer struct {
	// Means holds, per feature, the mean of the present training values; 0 when the
	// feature was never present.
	Means []float64
	// Missing counts, per feature, the training rows where the value was missing.
	Missing []int
	// Rows is the number of training rows the imputer was fitted on.
	Rows int
}

// FitImputer learns the per-feature means and missing counts of x.
func FitImputer(x *mat.Dense) Imputer {
	n, k := x.Dims()
	im := Imputer{Means: make([]float64, k), Missing: make([]int, k), Rows: n}
	for j := range k {
		var sum float64
		for i := range n {
			v := x.At(i, j)
			if math.IsNaN(v) {
				im.Missing[j]++
				continue
			}
			sum += v
		}
		if present := n - im.Missing[j]; present > 0 {
			im.Means[j] = sum / float64(present)
		}
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

// Fill returns a copy of x with every NaN replaced by its feature's mean.
func (im Imputer) Fill(x *mat.Dense) *mat.Dense {
	out := mat.DenseCopyOf(x)
	n, k := out.Dims()
	for i := range n {
		row := out.RawRowView(i)
		for j := range k {
			if math.IsNaN(row[j]) {
				row[j] = im.Means[j]
			}
		}
	}
	return out
}
