package drift

import (
	"fmt"
	"math"
)

// Wasserstein returns the Wasserstein-1 (earth mover's) distance between the
// empirical distributions of a and b, ∫ |F_a(x) − F_b(x)| dx, in the samples' unit.
// NaN and ±Inf are ignored. Shifting every value of a sample by c moves the distance
// to the unshifted sample to |c|.
func Wasserstein[T Float](a, b []T) (float64, error) {
	x, y := sortedFinite(a), sortedFinite(b)
	if len(x) == 0 || len(y) == 0 {
		return 0, fmt.Errorf("wasserstein: %w: %d and %d values",
			ErrNotEnoughData, len(x), len(y))
	}
	s := scaleOf(x, y)
	return clampFinite(wasserstein(scaled(x, s), scaled(y, s)) * s), nil
}

// WassersteinNormalized returns the Wasserstein-1 distance between ref and live
// divided by the population standard deviation of ref, as Evidently's default test
// for large numeric samples does; a value of 0.1 means the live distribution moved
// by about a tenth of the reference's spread. When ref is constant the pooled
// standard deviation of both samples is used instead, and when both are the same
// constant the distance is 0.
func WassersteinNormalized[T Float](ref, live []T) (float64, error) {
	x, y := sortedFinite(ref), sortedFinite(live)
	if len(x) == 0 || len(y) == 0 {
		return 0, fmt.Errorf("normalised wasserstein: %w: %d reference and %d live values",
			ErrNotEnoughData, len(x), len(y))
	}

	// The scale cancels in the ratio; it only keeps the arithmetic finite.
	s := scaleOf(x, y)
	x, y = scaled(x, s), scaled(y, s)
	w := wasserstein(x, y)
	if w == 0 {
		return 0, nil
	}
	_, sd := meanStd(x)
	if sd == 0 {
		_, sd = meanStd(append(append(make([]float64, 0, len(x)+len(y)), x...), y...))
	}
	if sd == 0 {
		// Only reachable when the spread underflows; the samples differ, so say so.
		return math.MaxFloat64, nil
	}
	return clampFinite(w / sd), nil
}

// wasserstein computes the distance between two non-empty sorted samples whose values
// are at most 2 in magnitude, walking the merged order statistics.
func wasserstein(x, y []float64) float64 {
	n, m := float64(len(x)), float64(len(y))
	var i, j int
	var dist float64
	prev := min(x[0], y[0])
	for i < len(x) || j < len(y) {
		var next float64
		switch {
		case j == len(y) || (i < len(x) && x[i] <= y[j]):
			next = x[i]
		default:
			next = y[j]
		}
		// Between prev and next both empirical CDFs are constant.
		dist += math.Abs(float64(i)/n-float64(j)/m) * (next - prev)
		for i < len(x) && x[i] == next {
			i++
		}
		for j < len(y) && y[j] == next {
			j++
		}
		prev = next
	}
	return dist
}
