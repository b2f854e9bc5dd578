package evaluation

import (
	"errors"
	"fmt"
	"math"
)

// ErrNoRows reports that no row has both a label and a prediction.
var ErrNoRows = errors.New("no labelled rows")

// ErrNotEnoughData reports too few rows or sessions for a statistic: an A/B arm with
// fewer than two sessions, for example.
var ErrNotEnoughData = errors.New("not enough data")

// ErrShape reports inputs whose lengths disagree, or two versions compared on rows
// that are not the same.
var ErrShape = errors.New("inputs do not line up")

// Predictions are one model version's predictions on labelled rows. A row whose
// label or prediction is NaN or ±Inf is left out of every metric.
type Predictions struct {
	Label []float64
	Pred  []float64
	// Lower and Upper bound each prediction's interval; both nil when the model
	// gives none.
	Lower, Upper []float64
	// Segment names each row's segment (sport, heat category…) for BySegment; nil
	// when unused.
	Segment []string
	// Group names each row's unit of independence, usually its session: bootstrap
	// resampling and A/B tests work on groups, since rows of one session are not
	// independent. Nil makes every row its own group.
	Group []string
}

// check reports inputs whose lengths disagree.
func (p *Predictions) check() error {
	n := len(p.Label)
	if len(p.Pred) != n {
		return fmt.Errorf("%w: %d labels, %d predictions", ErrShape, n, len(p.Pred))
	}
	if (p.Lower == nil) != (p.Upper == nil) {
		return fmt.Errorf("%w: an interval needs both bounds", ErrShape)
	}
	for _, s := range []struct {
		name string
		n    int
		set  bool
	}{
		{"lower bounds", len(p.Lower), p.Lower != nil},
		{"upper bounds", len(p.Upper), p.Upper != nil},
		{"segments", len(p.Segment), p.Segment != nil},
		{"groups", len(p.Group), p.Group != nil},
	} {
		if s.set && s.n != n {
			return fmt.Errorf("%w: %d %s for %d rows", ErrShape, s.n, s.name, n)
		}
	}
	return nil
}

// usable reports whether row i has a finite label and prediction.
func (p *Predictions) usable(i int) bool { return finite(p.Label[i]) && finite(p.Pred[i]) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// shift returns the first usable label. Sums of squares are taken around it, so that
// labels far from zero (core temperatures near 37 °C) keep their precision.
func (p *Predictions) shift() float64 {
	for i := range p.Label {
		if p.usable(i) {
			return p.Label[i]
		}
	}
	return 0
}

// Metrics summarise predictions against labels, in the unit of the output.
type Metrics struct {
	N    int     `json:"n"`    // rows scored
	MAE  float64 `json:"mae"`  // mean absolute error
	RMSE float64 `json:"rmse"` // root mean squared error
	Bias float64 `json:"bias"` // mean of prediction − label
	// R2 is 1 − SSE/SST, negative when worse than predicting the mean; nil when the
	// labels do not vary.
	R2 *float64 `json:"r2,omitempty"`
	// Coverage is the share of labels within [Lower, Upper], over the rows with an
	// interval; nil without intervals.
	Coverage *float64 `json:"coverage,omitempty"`
}

// Score computes the metrics of p. It reports ErrNoRows when no row is usable.
func Score(p Predictions) (Metrics, error) {
	if err := p.check(); err != nil {
		return Metrics{}, fmt.Errorf("score: %w", err)
	}
	var s sums
	k := p.shift()
	for i := range p.Label {
		s.add(&p, i, k)
	}
	if s.n == 0 {
		return Metrics{}, fmt.Errorf("score: %w", ErrNoRows)
	}
	return s.metrics(), nil
}

// sums accumulates what the metrics need, so that bootstrap resamples can add up
// precomputed per-group sums instead of revisiting rows.
type sums struct {
	n                 float64
	abs, sq, err      float64 // Σ|e|, Σe², Σe with e = prediction − label
	y, y2             float64 // Σy, Σy² of the labels minus a shared shift
	intervals, inside float64
}

// add adds row i, if usable, with its label taken relative to shift.
func (s *sums) add(p *Predictions, i int, shift float64) {
	if !p.usable(i) {
		return
	}
	y, e := p.Label[i]-shift, p.Pred[i]-p.Label[i]
	s.n++
	s.abs += math.Abs(e)
	s.sq += e * e
	s.err += e
	s.y += y
	s.y2 += y * y
	if p.Lower != nil && !math.IsNaN(p.Lower[i]) && !math.IsNaN(p.Upper[i]) {
		s.intervals++
		if l := p.Label[i]; l >= p.Lower[i] && l <= p.Upper[i] {
			s.inside++
		}
	}
}

func (s *sums) merge(o *sums, times float64) {
	s.n += o.n * times
	s.abs += o.abs * times
	s.sq += o.sq * times
	s.err += o.err * times
	s.y += o.y * times
	s.y2 += o.y2 * times
	s.intervals += o.intervals * times
	s.inside += o.inside * times
}

// metrics turns the sums of at least one row into Metrics.
func (s *sums) metrics() Metrics {
	m := Metrics{N: int(s.n), MAE: s.abs / s.n, RMSE: math.Sqrt(s.sq / s.n), Bias: s.err / s.n}
	// The labels are shifted by one of them, so this difference does not cancel
	// catastrophically; a tiny remainder is rounding, not spread.
	if sst := s.y2 - s.y*s.y/s.n; sst > 1e-12*s.y2 {
		r2 := 1 - s.sq/sst
		m.R2 = &r2
	}
	if s.intervals > 0 {
		c := s.inside / s.intervals
		m.Coverage = &c
	}
	return m
}
