package drift

import (
	"errors"
	"math"
	"slices"
)

// ErrNotEnoughData reports that a statistic has too few usable values to be defined:
// an empty or all-missing sample, an empty histogram, or fewer values than a report's
// minimum.
var ErrNotEnoughData = errors.New("not enough data")

// ErrMismatch reports inputs that cannot be compared: histograms of different
// lengths, or sketches built on different bins or categories.
var ErrMismatch = errors.New("inputs do not match")

// ErrInvalid reports a malformed input: a negative, NaN or infinite count, or a
// decoded profile or sketch whose fields contradict each other.
var ErrInvalid = errors.New("invalid input")

// Float is the element type the sample statistics accept.
type Float interface {
	~float32 | ~float64
}

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// sortedFinite returns the finite values of xs as float64, sorted ascending.
func sortedFinite[T Float](xs []T) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if v := float64(x); finite(v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// clampFinite maps ±Inf to ±MaxFloat64. Some statistics can exceed the float64
// range in theory (a distance between values near ±MaxFloat64); a huge finite
// value keeps the verdict right where an Inf would break JSON and arithmetic.
func clampFinite(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

// scaleOf returns a power of two s such that every |x|/s < 2 for the given sorted
// samples, so that differences of scaled values cannot overflow. Dividing by a power
// of two is exact (short of underflow).
func scaleOf(samples ...[]float64) float64 {
	var m float64
	for _, xs := range samples {
		if len(xs) > 0 {
			m = max(m, math.Abs(xs[0]), math.Abs(xs[len(xs)-1]))
		}
	}
	if m == 0 {
		return 1
	}
	_, exp := math.Frexp(m)
	return math.Ldexp(1, exp-1)
}

// scaled returns xs divided by s.
func scaled(xs []float64, s float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x / s
	}
	return out
}

// shares returns counts normalised to sum to one. It reports ErrInvalid for a
// negative or non-finite count and ErrNotEnoughData when all counts are zero.
func shares(counts []float64) ([]float64, error) {
	// Divide by the largest count first so that the sum cannot overflow.
	var top float64
	for _, c := range counts {
		if !finite(c) || c < 0 {
			return nil, ErrInvalid
		}
		top = max(top, c)
	}
	if top == 0 {
		return nil, ErrNotEnoughData
	}
	out := make([]float64, len(counts))
	var sum float64
	for i, c := range counts {
		out[i] = c / top
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out, nil
}

// meanStd returns the mean and the population standard deviation (divisor n) of a
// non-empty sample whose values are at most 2 in magnitude.
func meanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)))
}
