package drift

import (
	"fmt"
	"math"
	"strconv"
)

// maxDecodedCapacity bounds the reservoir and unseen-category sizes a decoded sketch
// may ask for, so that a damaged file cannot make Add allocate without limit.
const maxDecodedCapacity = 1 << 20

// validate checks that a decoded sketch is internally consistent.
func (j *sketchJSON) validate() error {
	if j.Capacity < 0 || j.Capacity > maxDecodedCapacity ||
		j.MaxUnseen < 1 || j.MaxUnseen > maxDecodedCapacity {
		return fmt.Errorf("capacity %d or max unseen %d out of range", j.Capacity, j.MaxUnseen)
	}
	if j.Count < 0 || j.Missing < 0 || j.Seen < 0 {
		return fmt.Errorf("negative count")
	}
	if !finite(j.Min) || !finite(j.Max) || j.Min > j.Max || (j.Count == 0 && j.Min != j.Max) {
		return fmt.Errorf("bad range [%v, %v]", j.Min, j.Max)
	}
	switch j.Kind {
	case Numeric:
		if err := j.validateNumeric(); err != nil {
			return err
		}
	case Categorical:
		if err := j.validateCategorical(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown kind %q", j.Kind)
	}
	return j.validateReservoir()
}

func (j *sketchJSON) validateNumeric() error {
	if len(j.Unseen) > 0 || j.Lumped {
		return fmt.Errorf("numeric sketch with unseen categories")
	}
	if !strictlyIncreasing(j.Edges) || !strictlyIncreasing(j.Levels) {
		return fmt.Errorf("edges or levels not finite and increasing")
	}
	if len(j.Edges) == 0 && (len(j.Levels) > 0 || len(j.Bins) > 0) {
		return fmt.Errorf("levels or bins without edges")
	}
	if len(j.Edges) > 0 && len(j.Bins) != len(j.Edges)+1 {
		return fmt.Errorf("%d bins for %d edges", len(j.Bins), len(j.Edges))
	}
	if err := sumTo(j.Bins, j.Count); len(j.Bins) > 0 && err != nil {
		return fmt.Errorf("bins: %w", err)
	}
	if len(j.Levels) == 0 {
		if len(j.Categories) > 0 || len(j.Cats) > 0 {
			return fmt.Errorf("categories without levels")
		}
		return nil
	}
	if len(j.Categories) != len(j.Levels) || len(j.Cats) != len(j.Levels)+1 {
		return fmt.Errorf("levels do not match their counts")
	}
	if err := checkNames(j.Categories); err != nil {
		return err
	}
	if err := sumTo(j.Cats, j.Count); err != nil {
		return fmt.Errorf("levels: %w", err)
	}
	return nil
}

func (j *sketchJSON) validateCategorical() error {
	if len(j.Edges) > 0 || len(j.Levels) > 0 || len(j.Bins) > 0 || len(j.Reservoir) > 0 {
		return fmt.Errorf("categorical sketch with numeric fields")
	}
	if j.Min != 0 || j.Max != 0 {
		return fmt.Errorf("categorical sketch with a range")
	}
	if len(j.Cats) != len(j.Categories)+1 {
		return fmt.Errorf("%d counts for %d categories", len(j.Cats), len(j.Categories))
	}
	if err := checkNames(j.Categories); err != nil {
		return err
	}
	if len(j.Unseen) > j.MaxUnseen || (j.Lumped && len(j.Unseen) > 0) {
		return fmt.Errorf("too many unseen categories")
	}
	counts := append([]int64(nil), j.Cats...)
	for c, n := range j.Unseen {
		if c == "" || n <= 0 || containsString(j.Categories, c) {
			return fmt.Errorf("bad unseen category %q", c)
		}
		counts = append(counts, n)
	}
	if err := sumTo(counts, j.Count); err != nil {
		return fmt.Errorf("categories: %w", err)
	}
	return nil
}

func (j *sketchJSON) validateReservoir() error {
	if j.Capacity == 0 || j.Kind == Categorical {
		if len(j.Reservoir) > 0 || j.Seen > 0 {
			return fmt.Errorf("reservoir without capacity")
		}
		return nil
	}
	if j.Seen > j.Count || int64(len(j.Reservoir)) != min(j.Seen, int64(j.Capacity)) {
		return fmt.Errorf("reservoir of %d after %d values", len(j.Reservoir), j.Seen)
	}
	for _, v := range j.Reservoir {
		if !finite(v) || v < j.Min || v > j.Max {
			return fmt.Errorf("reservoir value outside the range")
		}
	}
	return nil
}

func checkNames(names []string) error {
	seen := make(map[string]bool, len(names))
	for _, c := range names {
		if c == "" || seen[c] {
			return fmt.Errorf("empty or repeated category %q", c)
		}
		seen[c] = true
	}
	return nil
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// binLabels names the bins of a histogram with the given inner edges.
func binLabels(edges []float64) []string {
	if len(edges) == 0 {
		return nil
	}
	labels := make([]string, len(edges)+1)
	labels[0] = "< " + formatNumber(edges[0])
	for i := 1; i < len(edges); i++ {
		labels[i] = "[" + formatNumber(edges[i-1]) + ", " + formatNumber(edges[i]) + ")"
	}
	labels[len(edges)] = "≥ " + formatNumber(edges[len(edges)-1])
	return labels
}

// formatNumber prints v with four significant digits, enough to tell bins apart in a
// report.
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e6 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
