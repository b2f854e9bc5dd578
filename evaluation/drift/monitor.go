package drift

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MonitorOptions bound a Monitor's memory. A zero field selects the default.
type MonitorOptions struct {
	// BucketWidth is the span of one time bucket of the drift-over-time series.
	// Default one hour.
	BucketWidth time.Duration
	// MaxBuckets is the most time buckets kept; the oldest go first. Default 168
	// (a week of hours).
	MaxBuckets int
	// Sketch bounds each feature's total sketch.
	Sketch SketchOptions
	// BucketReservoir is the size of the random sample each time bucket keeps per
	// numeric feature, so that a report over a recent window (see Since) can run KS
	// and Wasserstein. Zero or negative keeps none: a window report then has
	// verdicts only for the tests on bins (chi-square, Jensen–Shannon, PSI).
	BucketReservoir int
}

func (o MonitorOptions) withDefaults() MonitorOptions {
	if o.BucketWidth <= 0 {
		o.BucketWidth = time.Hour
	}
	if o.MaxBuckets <= 0 {
		o.MaxBuckets = 168
	}
	o.Sketch = o.Sketch.withDefaults()
	return o
}

// Monitor keeps the live sketches of every feature of a Profile: one in total since
// it started, and one per time bucket (by event time) for the most recent buckets.
// It is safe for concurrent use.
type Monitor struct {
	profile *Profile
	opt     MonitorOptions

	mu      sync.Mutex
	total   []*Sketch // guarded by mu; one per profile feature
	buckets []bucket  // guarded by mu; ascending by start, at most opt.MaxBuckets
	late    int64     // guarded by mu; rows in no kept bucket: too old, or evicted
}

// bucket holds the sketches of one time span.
type bucket struct {
	start    time.Time
	rows     int64
	sketches []*Sketch
}

// NewMonitor returns an empty monitor of the features of p, which must be valid
// (see Profile.Validate) and must not change afterwards.
func NewMonitor(p *Profile, opt MonitorOptions) (*Monitor, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("new monitor: %w", err)
	}
	m := &Monitor{profile: p, opt: opt.withDefaults()}
	m.total = m.newSketches(m.opt.Sketch)
	return m, nil
}

// newSketches returns one empty sketch per profile feature, each with its own seed.
func (m *Monitor) newSketches(opt SketchOptions) []*Sketch {
	out := make([]*Sketch, len(m.profile.Features))
	for i := range m.profile.Features {
		o := opt
		o.Seed = opt.Seed ^ uint64(i)*0x9e3779b97f4a7c15
		out[i] = NewSketch(&m.profile.Features[i], o)
	}
	return out
}

// Profile returns the reference the monitor compares with.
func (m *Monitor) Profile() *Profile { return m.profile }

// Observe records one live row at event time t. values[i] is the value of the
// profile's i-th feature (NaN where missing) and categories[i] its category (""
// where missing); each feature reads the one its kind needs, and categories may be
// nil when no feature is categorical. It reports ErrMismatch when a slice's length
// differs from the number of features.
func (m *Monitor) Observe(t time.Time, values []float64, categories []string) error {
	n := len(m.profile.Features)
	if len(values) != n || (categories != nil && len(categories) != n) {
		return fmt.Errorf("observe: %w: %d values and %d categories for %d features",
			ErrMismatch, len(values), len(categories), n)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	add(m.total, values, categories)
	if b := m.bucketLocked(t); b != nil {
		b.rows++
		add(b.sketches, values, categories)
	} else {
		m.late++
	}
	return nil
}

// add records one row in a set of sketches whose lock the caller holds.
func add(sketches []*Sketch, values []float64, categories []string) {
	for i, s := range sketches {
		if s.kind == Categorical {
			c := ""
			if categories != nil {
				c = categories[i]
			}
			s.addCategoryLocked(c)
			continue
		}
		s.addLocked(values[i])
	}
}

// bucketLocked returns the bucket of time t, creating it (and dropping the oldest
// past MaxBuckets) if needed, or nil when t is older than every bucket kept.
func (m *Monitor) bucketLocked(t time.Time) *bucket {
	start := t.Truncate(m.opt.BucketWidth)
	n := len(m.buckets)
	if n > 0 && m.buckets[n-1].start.Equal(start) {
		return &m.buckets[n-1] // the common case: live traffic is mostly in order
	}
	i, found := slices.BinarySearchFunc(m.buckets, start, func(b bucket, t time.Time) int {
		return b.start.Compare(t)
	})
	if found {
		return &m.buckets[i]
	}
	if n >= m.opt.MaxBuckets && i == 0 {
		return nil
	}
	m.buckets = slices.Insert(m.buckets, i, bucket{start: start,
		sketches: m.newSketches(m.bucketSketchOptions(start))})
	if len(m.buckets) > m.opt.MaxBuckets {
		m.late = saturatingAdd(m.late, m.buckets[0].rows)
		m.buckets = slices.Delete(m.buckets, 0, 1)
		i--
	}
	return &m.buckets[i]
}

// bucketSketchOptions returns the sketch options of the bucket starting at start,
// seeded apart from the total's and from the other buckets'.
func (m *Monitor) bucketSketchOptions(start time.Time) SketchOptions {
	o := m.opt.Sketch
	o.Reservoir = -1
	if m.opt.BucketReservoir > 0 {
		o.Reservoir = m.opt.BucketReservoir
	}
	o.Seed ^= uint64(start.Unix()) * 0xbf58476d1ce4e5b9
	return o
}

// Since returns a new monitor holding only the time buckets that start at or after
// t (truncated to the bucket width), whose totals are the sums of those buckets.
// Its total reservoirs are merged from the buckets' (see BucketReservoir). It is
// how a report covers a recent window rather than everything since the start.
func (m *Monitor) Since(t time.Time) *Monitor {
	_, buckets, _ := m.snapshot()
	w := &Monitor{profile: m.profile, opt: m.opt}
	w.total = w.newSketches(w.opt.Sketch)
	start := t.Truncate(m.opt.BucketWidth)
	for _, b := range buckets {
		if b.start.Before(start) {
			continue
		}
		for i, s := range b.sketches {
			w.total[i].mergeLocked(s)
		}
		w.buckets = append(w.buckets, b)
	}
	return w
}

// Merge adds everything o recorded to m, as when combining the monitors of several
// replicas. Both must watch the same profile (equal in content) with the same bucket
// width.
func (m *Monitor) Merge(o *Monitor) error {
	if m == o {
		return fmt.Errorf("merge monitor: %w: a monitor cannot merge itself", ErrMismatch)
	}
	if o.opt.BucketWidth != m.opt.BucketWidth {
		return fmt.Errorf("merge monitor: %w: bucket widths %v and %v", ErrMismatch,
			m.opt.BucketWidth, o.opt.BucketWidth)
	}
	total, buckets, late := o.snapshot()

	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkCompatible(m.total, total); err != nil {
		return fmt.Errorf("merge monitor: %w", err)
	}
	for i, s := range total {
		m.total[i].mergeLocked(s)
	}
	m.late = saturatingAdd(m.late, late)
	for _, ob := range buckets {
		b := m.bucketLocked(ob.start)
		if b == nil {
			m.late = saturatingAdd(m.late, ob.rows)
			continue
		}
		b.rows = saturatingAdd(b.rows, ob.rows)
		for i, s := range ob.sketches {
			b.sketches[i].mergeLocked(s)
		}
	}
	return nil
}

func checkCompatible(a, b []*Sketch) error {
	if len(a) != len(b) {
		return fmt.Errorf("%w: %d and %d features", ErrMismatch, len(a), len(b))
	}
	for i := range a {
		if !a[i].compatible(b[i]) {
			return fmt.Errorf("%w: feature %d has different bins or categories", ErrMismatch, i)
		}
	}
	return nil
}

// snapshot returns deep copies of the monitor's state.
func (m *Monitor) snapshot() (total []*Sketch, buckets []bucket, late int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	total = make([]*Sketch, len(m.total))
	for i, s := range m.total {
		total[i] = s.clone()
	}
	buckets = make([]bucket, len(m.buckets))
	for i, b := range m.buckets {
		buckets[i] = bucket{start: b.start, rows: b.rows, sketches: make([]*Sketch,
			len(b.sketches))}
		for j, s := range b.sketches {
			buckets[i].sketches[j] = s.clone()
		}
	}
	return total, buckets, m.late
}

// monitorJSON is the serialised form of a Monitor; the profile is stored apart.
type monitorJSON struct {
	BucketWidth time.Duration `json:"bucket_width_ns"`
	Late        int64         `json:"late"`
	Total       []*Sketch     `json:"total"`
	Buckets     []bucketJSON  `json:"buckets"`
}

type bucketJSON struct {
	Start    time.Time `json:"start"`
	Rows     int64     `json:"rows"`
	Sketches []*Sketch `json:"sketches"`
}

// MarshalJSON encodes the monitor's live state (not its profile), so that a restart
// can resume it with RestoreMonitor.
func (m *Monitor) MarshalJSON() ([]byte, error) {
	total, buckets, late := m.snapshot()
	j := monitorJSON{BucketWidth: m.opt.BucketWidth, Late: late, Total: total,
		Buckets: make([]bucketJSON, len(buckets))}
	for i, b := range buckets {
		j.Buckets[i] = bucketJSON{Start: b.start, Rows: b.rows, Sketches: b.sketches}
	}
	return json.Marshal(j)
}

// RestoreMonitor returns a monitor of p resumed from the state MarshalJSON wrote.
// The state must come from a monitor of the same profile; buckets beyond
// opt.MaxBuckets are dropped, oldest first.
func RestoreMonitor(p *Profile, data []byte, opt MonitorOptions) (*Monitor, error) {
	m, err := NewMonitor(p, opt)
	if err != nil {
		return nil, fmt.Errorf("restore monitor: %w", err)
	}
	var j monitorJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("restore monitor: %w: %w", ErrInvalid, err)
	}
	if j.BucketWidth != m.opt.BucketWidth {
		return nil, fmt.Errorf("restore monitor: %w: saved with buckets of %v, not %v",
			ErrMismatch, j.BucketWidth, m.opt.BucketWidth)
	}
	if j.Late < 0 {
		return nil, fmt.Errorf("restore monitor: %w: negative late count", ErrInvalid)
	}
	if err := checkRestored(m.total, j.Total); err != nil {
		return nil, fmt.Errorf("restore monitor: total: %w", err)
	}
	m.total, m.late = j.Total, j.Late
	for i, b := range j.Buckets {
		if err := checkRestored(m.total, b.Sketches); err != nil {
			return nil, fmt.Errorf("restore monitor: bucket %d: %w", i, err)
		}
		if b.Rows < 0 || (i > 0 && !b.Start.After(j.Buckets[i-1].Start)) ||
			!b.Start.Equal(b.Start.Truncate(j.BucketWidth)) {
			return nil, fmt.Errorf("restore monitor: %w: bucket %d out of order", ErrInvalid, i)
		}
		m.buckets = append(m.buckets, bucket{start: b.Start, rows: b.Rows,
			sketches: b.Sketches})
	}
	if extra := len(m.buckets) - m.opt.MaxBuckets; extra > 0 {
		for _, b := range m.buckets[:extra] {
			m.late = saturatingAdd(m.late, b.rows)
		}
		m.buckets = slices.Delete(m.buckets, 0, extra)
	}
	return m, nil
}

// checkRestored checks decoded sketches against the empty ones the profile gives.
func checkRestored(want, got []*Sketch) error {
	for _, s := range got {
		if s == nil {
			return fmt.Errorf("%w: missing sketch", ErrInvalid)
		}
	}
	return checkCompatible(want, got)
}
