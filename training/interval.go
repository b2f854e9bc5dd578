package training

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// Interval is a prediction interval built from residual quantiles: a prediction ŷ
// comes with the range [ŷ + Lower, ŷ + Upper].
type Interval struct {
	// Lower and Upper are quantiles of the residuals y − ŷ, in the output's unit.
	Lower, Upper float64
	// LowerP and UpperP are the probabilities of those quantiles (0.1 and 0.9 for an
	// 80 % interval).
	LowerP, UpperP float64
}

// ResidualInterval returns the central interval of the given coverage (0.8 for 80 %)
// from the residuals y − ŷ; NaN residuals are ignored. Quantiles interpolate linearly
// between order statistics.
func ResidualInterval(residuals []float64, coverage float64) Interval {
	lowP := (1 - coverage) / 2
	iv := Interval{LowerP: lowP, UpperP: 1 - lowP}
	sorted := make([]float64, 0, len(residuals))
	for _, r := range residuals {
		if !math.IsNaN(r) {
			sorted = append(sorted, r)
		}
	}
	if len(sorted) == 0 {
		iv.Lower, iv.Upper = math.NaN(), math.NaN()
		return iv
	}
	slices.Sort(sorted)
	iv.Lower = stat.Quantile(iv.LowerP, stat.LinInterp, sorted, nil)
	iv.Upper = stat.Quantile(iv.UpperP, stat.LinInterp, sorted, nil)
	return iv
}
