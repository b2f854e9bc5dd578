package features

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Defaults of Options.
const (
	DefaultShards        = 64
	DefaultQuarantineCap = 10000
)

// Options tunes a Store.
type Options struct {
	// Shards is how many independently locked parts athletes are spread over; more
	// shards mean less lock contention. Rounded up to a power of two; zero means
	// DefaultShards.
	Shards int

	// Window tunes every athlete's window.
	Window WindowOptions

	// QuarantineCap bounds the distinct (athlete, source, field) quarantine entries;
	// rejections beyond it are counted in per-field overflow entries. Zero means
	// DefaultQuarantineCap.
	QuarantineCap int

	// Allocator allocates the Arrow records of Vectors; nil means
	// memory.DefaultAllocator.
	Allocator memory.Allocator
}

// DefaultOptions returns the options used when none are given.
func DefaultOptions() Options {
	return Options{
		Shards:        DefaultShards,
		Window:        DefaultWindowOptions(),
		QuarantineCap: DefaultQuarantineCap,
	}
}

// Store is the in-memory OnlineStore: athletes' windows spread by a hash of their id
// over shards, each a map under its own lock. It is safe for concurrent use.
//
// TODO: windows of athletes who stopped sending stay in memory until Delete; a
// long-running server needs to drop idle windows (say, newest reading over a day
// old), or its memory grows with every athlete it has ever seen.
type Store struct {
	opts   Options
	seed   maphash.Seed
	shards []shard
	mask   uint64

	qmu        sync.Mutex
	quarantine map[quarantineKey]*QuarantineEntry // guarded by qmu
	rejected   uint64                             // guarded by qmu
}

type shard struct {
	mu       sync.RWMutex
	athletes map[string]*AthleteWindow // guarded by mu
	counts   Counts                    // of deleted athletes' windows; guarded by mu
}

type quarantineKey struct {
	athlete, source, field string
	overflow               bool
}

var _ OnlineStore = (*Store)(nil)

// NewStore returns an empty store; nil options mean DefaultOptions.
func NewStore(opts *Options) *Store {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if o.Shards <= 0 {
		o.Shards = DefaultShards
	}
	if o.QuarantineCap <= 0 {
		o.QuarantineCap = DefaultQuarantineCap
	}
	n := 1
	for n < o.Shards {
		n <<= 1
	}

	s := &Store{
		opts:       o,
		seed:       maphash.MakeSeed(),
		shards:     make([]shard, n),
		mask:       uint64(n - 1),
		quarantine: make(map[quarantineKey]*QuarantineEntry),
	}
	for i := range s.shards {
		s.shards[i].athletes = make(map[string]*AthleteWindow)
	}
	return s
}

func (s *Store) shardOf(athleteID string) *shard {
	return &s.shards[maphash.String(s.seed, athleteID)&s.mask]
}

// Ingest validates a reading and applies it to its athlete's window (see
// OnlineStore).
func (s *Store) Ingest(ctx context.Context, r Reading) (AddResult, error) {
	if err := r.Validate(); err != nil {
		s.reject(&r, err)
		return Rejected, fmt.Errorf("ingest reading: %w: %w", ErrInvalidReading, err)
	}

	sh := s.shardOf(r.AthleteID)
	sh.mu.Lock()
	res := sh.windowLocked(r.AthleteID, s.opts.Window).Add(r)
	sh.mu.Unlock()

	if res == Full {
		return res, fmt.Errorf("ingest reading: %w", ErrWindowFull)
	}
	return res, nil
}

// windowLocked returns the athlete's window, creating it if needed.
func (sh *shard) windowLocked(athleteID string, opts WindowOptions) *AthleteWindow {
	w := sh.athletes[athleteID]
	if w == nil {
		w = NewAthleteWindow(athleteID, opts)
		sh.athletes[w.AthleteID()] = w
	}
	return w
}

// IngestBatch ingests readings in event-time order (see OnlineStore). Consecutive
// readings of one athlete share one lock acquisition.
func (s *Store) IngestBatch(ctx context.Context, rs []Reading) (Counts, error) {
	var c Counts
	order := batchOrder(rs)
	for k := 0; k < len(order); {
		if err := ctx.Err(); err != nil {
			return c, fmt.Errorf("ingest batch: %w", err)
		}
		k = s.ingestRun(rs, order, k, &c)
	}
	return c, nil
}

// ingestRun ingests the readings order[k:] up to the next change of athlete and
// returns where it stopped.
func (s *Store) ingestRun(rs []Reading, order []int, k int, c *Counts) int {
	first := &rs[order[k]]
	if err := first.Validate(); err != nil {
		s.reject(first, err)
		c.Rejected++
		return k + 1
	}

	sh := s.shardOf(first.AthleteID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	w := sh.windowLocked(first.AthleteID, s.opts.Window)
	for ; k < len(order); k++ {
		r := &rs[order[k]]
		if r.AthleteID != first.AthleteID {
			break
		}
		if err := r.Validate(); err != nil {
			s.reject(r, err)
			c.Rejected++
			continue
		}
		c.add(w.Add(*r))
	}
	return k
}

// batchOrder returns the indexes of rs in stable event-time order.
func batchOrder(rs []Reading) []int {
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	sorted := slices.IsSortedFunc(rs, func(a, b Reading) int { return a.Time.Compare(b.Time) })
	if !sorted {
		slices.SortStableFunc(order, func(a, b int) int { return rs[a].Time.Compare(rs[b].Time) })
	}
	return order
}

// reject quarantines a reading that failed validation.
func (s *Store) reject(r *Reading, err error) {
	field, reason := "reading", err.Error()
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		field, reason = ve.Field, ve.Reason
	}

	s.qmu.Lock()
	defer s.qmu.Unlock()
	s.rejected++
	key := quarantineKey{athlete: r.AthleteID, source: r.Source, field: field}
	e := s.quarantine[key]
	if e == nil && len(s.quarantine) >= s.opts.QuarantineCap {
		key = quarantineKey{field: field, overflow: true}
		e = s.quarantine[key]
	}
	if e == nil {
		e = &QuarantineEntry{AthleteID: key.athlete, Source: key.source, Field: field,
			Overflow: key.overflow}
		s.quarantine[key] = e
	}
	e.Count++
	e.LastReason, e.LastTime = reason, r.Time
}

// Vector fills dst with the athlete's features as of asOf (see OnlineStore).
func (s *Store) Vector(ctx context.Context, athleteID string, asOf time.Time,
	dst *Vector) error {
	sh := s.shardOf(athleteID)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	w := sh.athletes[athleteID]
	if w == nil {
		dst.Reset(athleteID, asOf)
		return fmt.Errorf("vector of athlete: %w", ErrUnknownAthlete)
	}
	w.Vector(asOf, dst)
	return nil
}

// Newest returns the event time of the athlete's newest reading (see OnlineStore).
func (s *Store) Newest(ctx context.Context, athleteID string) (time.Time, error) {
	sh := s.shardOf(athleteID)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	w := sh.athletes[athleteID]
	if w == nil || w.Len() == 0 {
		return time.Time{}, fmt.Errorf("newest reading of athlete: %w", ErrUnknownAthlete)
	}
	return w.Newest(), nil
}

// Vectors returns the athletes' features as an Arrow record (see OnlineStore).
func (s *Store) Vectors(ctx context.Context, athleteIDs []string,
	asOf time.Time) (arrow.Record, error) {
	rb := NewRecordBuilder(s.opts.Allocator)
	defer rb.Release()

	v := NewVector()
	for _, id := range athleteIDs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("build vectors: %w", err)
		}
		err := s.Vector(ctx, id, asOf, v)
		if err != nil && !errors.Is(err, ErrUnknownAthlete) {
			return nil, fmt.Errorf("build vectors: %w", err)
		}
		if err := rb.Append(v); err != nil {
			return nil, fmt.Errorf("build vectors: %w", err)
		}
	}
	return rb.NewRecord(), nil
}

// Athletes returns the ids of the athletes held, sorted.
func (s *Store) Athletes(ctx context.Context) ([]string, error) {
	var ids []string
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for id := range sh.athletes {
			ids = append(ids, id)
		}
		sh.mu.RUnlock()
	}
	slices.Sort(ids)
	return ids, nil
}

// Delete forgets the athlete's window and quarantine entries. The store's total
// counts keep the athlete's readings, without their identity.
func (s *Store) Delete(ctx context.Context, athleteID string) error {
	sh := s.shardOf(athleteID)
	sh.mu.Lock()
	if w := sh.athletes[athleteID]; w != nil {
		sh.counts.Merge(w.Counts())
		delete(sh.athletes, athleteID)
	}
	sh.mu.Unlock()

	s.qmu.Lock()
	defer s.qmu.Unlock()
	for k := range s.quarantine {
		if k.athlete == athleteID {
			delete(s.quarantine, k)
		}
	}
	return nil
}

// Quarantine returns the quarantine counts, sorted by athlete, source and field.
func (s *Store) Quarantine(ctx context.Context) ([]QuarantineEntry, error) {
	s.qmu.Lock()
	out := make([]QuarantineEntry, 0, len(s.quarantine))
	for _, e := range s.quarantine {
		out = append(out, *e)
	}
	s.qmu.Unlock()

	slices.SortFunc(out, func(a, b QuarantineEntry) int {
		return cmp.Or(cmp.Compare(a.AthleteID, b.AthleteID), cmp.Compare(a.Source, b.Source),
			cmp.Compare(a.Field, b.Field), boolCompare(a.Overflow, b.Overflow))
	})
	return out, nil
}

// Counts returns the outcomes of all readings offered to the store.
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		c.Merge(sh.counts)
		for _, w := range sh.athletes {
			c.Merge(w.Counts())
		}
		sh.mu.RUnlock()
	}
	s.qmu.Lock()
	c.Rejected += s.rejected
	s.qmu.Unlock()
	return c, nil
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
