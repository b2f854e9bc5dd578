package evaluation

import (
	"fmt"
	"slices"
)

// SegmentMetrics are the metrics of the rows of one segment.
type SegmentMetrics struct {
	Segment string `json:"segment"`
	Metrics
}

// BySegment scores each segment of p apart, in segment name order; segments without
// a usable row are left out. It reports ErrShape when p has no segments.
func BySegment(p Predictions) ([]SegmentMetrics, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("score by segment: %w", err)
	}
	if p.Segment == nil {
		return nil, fmt.Errorf("score by segment: %w: no segments given", ErrShape)
	}

	k := p.shift()
	bySeg := make(map[string]*sums)
	for i, seg := range p.Segment {
		s := bySeg[seg]
		if s == nil {
			s = &sums{}
			bySeg[seg] = s
		}
		s.add(&p, i, k)
	}
	names := make([]string, 0, len(bySeg))
	for name, s := range bySeg {
		if s.n > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := make([]SegmentMetrics, len(names))
	for i, name := range names {
		out[i] = SegmentMetrics{Segment: name, Metrics: bySeg[name].metrics()}
	}
	return out, nil
}
