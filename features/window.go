package features

import (
	"math"
	"strings"
	"time"
	"unsafe"
)

// Limits of WindowOptions.
const (
	// DefaultLateness is how far behind the newest reading a reading may arrive and
	// still be applied.
	DefaultLateness = 2 * time.Minute
	// MaxLateness bounds WindowOptions.Lateness: everything within it is kept.
	MaxLateness = time.Hour
	// DefaultMaxReadings holds 62 minutes of several sources reporting every second.
	DefaultMaxReadings = 8192
	// maxReadingsLimit keeps source indexes within a uint16 (see AthleteWindow.sources).
	maxReadingsLimit = 1 << 15
)

// windowSpan is the longest window; the readings of the last windowSpan plus the
// lateness are kept.
const windowSpan = 60 * time.Minute

// WindowOptions tunes an AthleteWindow.
type WindowOptions struct {
	// Lateness is how far (event time) behind the athlete's newest reading a reading
	// may be and still be applied; older ones are counted late and dropped. Zero
	// allows no disorder at all. At most MaxLateness; negative counts as zero.
	Lateness time.Duration

	// MaxReadings caps the readings one athlete's window holds; a reading that would
	// exceed it is refused (Full). Zero means DefaultMaxReadings; at most 32768.
	MaxReadings int
}

// DefaultWindowOptions returns the options used when none are given.
func DefaultWindowOptions() WindowOptions {
	return WindowOptions{Lateness: DefaultLateness, MaxReadings: DefaultMaxReadings}
}

// AddResult says what became of a reading offered to a window.
type AddResult uint8

// The outcomes of AthleteWindow.Add and Store.Ingest.
const (
	// Applied means the reading was new and is now part of the window.
	Applied AddResult = iota
	// Duplicate means the window already held the same source, time and values;
	// nothing changed.
	Duplicate
	// Replaced means the window held a reading of the same source and time with other
	// values; the newer ingestion replaced them.
	Replaced
	// Late means the reading was older than the lateness allows and was not applied.
	Late
	// Full means the window already held its maximum of readings; not applied.
	Full
	// Rejected means the reading failed validation and went to quarantine. Only a
	// store returns it.
	Rejected

	numResults
)

var resultNames = [numResults]string{
	"applied", "duplicate", "replaced", "late", "full", "rejected",
}

// String returns the result's lower-case name.
func (r AddResult) String() string {
	if r >= numResults {
		return "invalid"
	}
	return resultNames[r]
}

// Counts tallies the outcomes of the readings offered, one counter per AddResult.
type Counts struct {
	Applied, Duplicate, Replaced, Late, Full, Rejected uint64
}

// Total returns the number of readings counted.
func (c Counts) Total() uint64 {
	return c.Applied + c.Duplicate + c.Replaced + c.Late + c.Full + c.Rejected
}

// add counts one outcome.
func (c *Counts) add(r AddResult) {
	switch r {
	case Applied:
		c.Applied++
	case Duplicate:
		c.Duplicate++
	case Replaced:
		c.Replaced++
	case Late:
		c.Late++
	case Full:
		c.Full++
	case Rejected:
		c.Rejected++
	}
}

// Merge adds the counts of o to c.
func (c *Counts) Merge(o Counts) {
	c.Applied += o.Applied
	c.Duplicate += o.Duplicate
	c.Replaced += o.Replaced
	c.Late += o.Late
	c.Full += o.Full
	c.Rejected += o.Rejected
}

// AthleteWindow is one athlete's recent readings and derived state, ordered by event
// time, from which it computes feature vectors. Serving feeds it reading by reading;
// training replays a simulated session through it; both get the same features.
//
// Event time rules: a reading is applied when it is no more than the lateness behind
// the newest reading seen; an older one is Late. A reading with the same source and
// time as one held is a Duplicate when its values are the same, and otherwise
// replaces the held one (the later ingestion wins). The window keeps the last 60
// minutes plus the lateness, at millisecond resolution and in float32.
//
// An AthleteWindow is not safe for concurrent use; Vector does not modify it, so
// concurrent Vector calls are safe when no Add runs.
type AthleteWindow struct {
	id       string
	lateness int64 // ms
	keep     int64 // ms of readings kept behind the newest
	maxRows  int

	rows    ring
	sources []string // source ids; a row stores its source's index

	started bool
	newest  int64 // newest event time seen, Unix ms

	// committed folds every row before commitEnd: those can no longer change, since
	// commitEnd is at or before newest − lateness.
	committed session
	commitEnd int64

	counts Counts
}

// NewAthleteWindow returns an empty window for the athlete.
func NewAthleteWindow(athleteID string, opts WindowOptions) *AthleteWindow {
	lateness := min(max(opts.Lateness, 0), MaxLateness)
	maxRows := opts.MaxReadings
	if maxRows <= 0 {
		maxRows = DefaultMaxReadings
	}
	return &AthleteWindow{
		id:       strings.Clone(athleteID),
		lateness: lateness.Milliseconds(),
		keep:     (windowSpan + lateness).Milliseconds(),
		maxRows:  min(maxRows, maxReadingsLimit),
	}
}

// AthleteID returns the athlete the window belongs to.
func (w *AthleteWindow) AthleteID() string { return w.id }

// Counts returns the tally of the readings offered to the window.
func (w *AthleteWindow) Counts() Counts { return w.counts }

// Len returns the number of readings held.
func (w *AthleteWindow) Len() int { return w.rows.n }

// Newest returns the newest event time seen, or the zero time before any reading.
func (w *AthleteWindow) Newest() time.Time {
	if !w.started {
		return time.Time{}
	}
	return time.UnixMilli(w.newest).UTC()
}

// Add offers a reading to the window and says what became of it. It does not
// validate the reading nor check its athlete; the caller does (see Store).
func (w *AthleteWindow) Add(r Reading) AddResult {
	res := w.add(&r)
	w.counts.add(res)
	return res
}

func (w *AthleteWindow) add(r *Reading) AddResult {
	ms := r.Time.UnixMilli()
	src, known := w.sourceIndex(r.Source)

	if w.started && ms < w.newest-w.lateness {
		if known && w.findExact(ms, src, &r.Values) {
			return Duplicate
		}
		return Late
	}

	if known {
		if i, ok := w.find(ms, src); ok {
			if w.rows.sameValues(i, &r.Values) {
				return Duplicate
			}
			w.rows.setValues(i, &r.Values)
			return Replaced
		}
	}

	newest := ms
	if w.started {
		newest = max(w.newest, ms)
	}
	evict := w.rows.search(newest - w.keep + 1)
	if w.rows.n-evict >= w.maxRows {
		return Full
	}

	w.advance(newest, evict)
	if !known {
		src = w.addSource(r.Source)
	}
	w.rows.insert(w.rows.search(ms+1), ms, src, &r.Values)
	return Applied
}

// advance moves the newest event time forward: it folds the rows that can no longer
// change into the committed state, drops the oldest evict rows (already folded) and
// moves the time base when the newest time would no longer fit.
func (w *AthleteWindow) advance(newest int64, evict int) {
	if !w.started {
		w.started = true
		w.newest = newest
		w.rows.base = newest - w.keep
		w.commitEnd = floorMinute(newest - w.lateness)
		return
	}
	w.newest = newest
	w.commit(floorMinute(newest - w.lateness))
	w.rows.dropFront(evict)
	if newest-w.rows.base > math.MaxInt32 {
		w.rows.rebase(newest - w.keep)
	}
}

// commit folds the rows before end into the committed state.
func (w *AthleteWindow) commit(end int64) {
	if end <= w.commitEnd {
		return
	}
	for i := w.rows.search(w.commitEnd); i < w.rows.n; i++ {
		t := w.rows.time(i)
		if t >= end {
			break
		}
		w.foldRow(&w.committed, i, t)
	}
	w.committed.closeUntil(end)
	w.commitEnd = end
}

// foldRow folds row i, at time t, into s.
func (w *AthleteWindow) foldRow(s *session, i int, t int64) {
	s.fold(t,
		float64(w.rows.value(HeartRate, i)),
		float64(w.rows.value(FluidIntake, i)),
		float64(w.rows.value(BodyMass, i)))
}

// find returns the row of source src at time ms.
func (w *AthleteWindow) find(ms int64, src uint16) (int, bool) {
	for i := w.rows.search(ms); i < w.rows.n && w.rows.time(i) == ms; i++ {
		if w.rows.src(i) == src {
			return i, true
		}
	}
	return 0, false
}

// findExact reports whether the window holds this exact reading. Times that no
// longer fit the time base cannot be held.
func (w *AthleteWindow) findExact(ms int64, src uint16, vals *[NumSignals]float64) bool {
	if ms-w.rows.base < 0 || ms-w.rows.base > math.MaxInt32 {
		return false
	}
	i, ok := w.find(ms, src)
	return ok && w.rows.sameValues(i, vals)
}

// sourceIndex returns the index of a known source.
func (w *AthleteWindow) sourceIndex(source string) (uint16, bool) {
	for i, s := range w.sources {
		if s == source {
			return uint16(i), true
		}
	}
	return 0, false
}

// addSource adds a source to the table, first dropping the sources no row uses once
// the table has grown well past the rows.
func (w *AthleteWindow) addSource(source string) uint16 {
	if len(w.sources) >= 16 && len(w.sources) > 2*w.rows.n {
		w.compactSources()
	}
	w.sources = append(w.sources, strings.Clone(source))
	return uint16(len(w.sources) - 1)
}

// compactSources renumbers the sources in use and forgets the others.
func (w *AthleteWindow) compactSources() {
	remap := make([]int32, len(w.sources))
	for i := range remap {
		remap[i] = -1
	}
	kept := w.sources[:0:0]
	for i := range w.rows.n {
		old := w.rows.src(i)
		if remap[old] < 0 {
			remap[old] = int32(len(kept))
			kept = append(kept, w.sources[old])
		}
		w.rows.srcs[w.rows.phys(i)] = uint16(remap[old])
	}
	w.sources = kept
}

// MemoryBytes estimates the heap the window holds: the struct, its columns and its
// source table. Store overhead per athlete (map entry, id) is not included.
func (w *AthleteWindow) MemoryBytes() int {
	n := int(unsafe.Sizeof(*w)) + len(w.id) + w.rows.bytes()
	n += cap(w.sources) * int(unsafe.Sizeof(""))
	for _, s := range w.sources {
		n += len(s)
	}
	return n
}
