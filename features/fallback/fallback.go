// Package fallback keeps feature lookups answering while the online store fails:
// Store wraps a features.OnlineStore, remembers each athlete's last vector, and
// serves it, every value marked stale, when the wrapped store errs (Redis gone, a
// network partition), until the store answers again.
package fallback

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/hydrocast/hydrocast/features"
)

// DefaultMaxAthletes is the default of Options.MaxAthletes: at about 2.5 KB a
// vector, some 250 MB.
const DefaultMaxAthletes = 100_000

const numShards = 16

// Options tunes a Store.
type Options struct {
	// MaxAthletes bounds the athletes whose last vector is kept; past it, a kept
	// vector picked at random makes room. Zero means DefaultMaxAthletes.
	MaxAthletes int

	// Timeout bounds each lookup in the wrapped store, so that a store that hangs
	// instead of failing still gives way to the kept vectors. Zero leaves only the
	// caller's context. A go-redis client honours it only with
	// ContextTimeoutEnabled set.
	Timeout time.Duration

	// OnError, if set, is called with each error of the wrapped store that a kept
	// vector covered up, for metrics or rate-limited logs. It must not block.
	OnError func(error)

	// Allocator allocates the Arrow records that Vectors builds from kept vectors;
	// nil means memory.DefaultAllocator.
	Allocator memory.Allocator
}

// Store is a features.OnlineStore that serves the last known vectors, marked
// stale, while the store it wraps fails. Writes and the other reads pass through.
//
// A kept vector is served for an athlete when the wrapped store fails with
// anything but features.ErrUnknownAthlete or the caller's own cancellation, and
// only for an as-of time at or after the one it was computed for, so that a
// lookup never sees readings from after its as-of time. Present values become
// stale, missing ones stay missing; the event times stay those of the readings
// behind them, so the caller sees how old they are. An athlete the wrapped store
// no longer knows, or deleted through this Store, is forgotten.
type Store struct {
	features.OnlineStore
	opts   Options
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu   sync.Mutex
	last map[string]*features.Vector // guarded by mu
}

// New wraps store; nil options mean the zero Options, every field at its default.
func New(store features.OnlineStore, opts *Options) *Store {
	s := &Store{OnlineStore: store, seed: maphash.MakeSeed()}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MaxAthletes <= 0 {
		s.opts.MaxAthletes = DefaultMaxAthletes
	}
	for i := range s.shards {
		s.shards[i].last = make(map[string]*features.Vector)
	}
	return s
}

// Vector fills dst with the athlete's features from the wrapped store, or, when it
// fails, with the last ones it gave, marked stale.
func (s *Store) Vector(ctx context.Context, athleteID string, asOf time.Time,
	dst *features.Vector) error {
	lookup, cancel := s.bound(ctx)
	err := s.OnlineStore.Vector(lookup, athleteID, asOf, dst)
	cancel()
	switch {
	case err == nil:
		s.remember(dst)
		return nil
	case errors.Is(err, features.ErrUnknownAthlete):
		s.forget(athleteID)
		return err
	case ctx.Err() != nil:
		return err
	}

	if !s.recall(athleteID, asOf, dst) {
		return err
	}
	if s.opts.OnError != nil {
		s.opts.OnError(err)
	}
	return nil
}

// Newest returns the event time of the athlete's newest reading from the wrapped
// store, or, when it fails, the time of the last vector this Store gave for them, so
// that an assessment "as of now" still finds the last known vector while the store
// is away.
func (s *Store) Newest(ctx context.Context, athleteID string) (time.Time, error) {
	lookup, cancel := s.bound(ctx)
	t, err := s.OnlineStore.Newest(lookup, athleteID)
	cancel()
	switch {
	case err == nil:
		return t, nil
	case errors.Is(err, features.ErrUnknownAthlete):
		s.forget(athleteID)
		return t, err
	case ctx.Err() != nil:
		return t, err
	}
	sh := s.shardOf(athleteID)
	sh.mu.Lock()
	kept := sh.last[athleteID]
	sh.mu.Unlock()
	if kept == nil {
		return t, err
	}
	if s.opts.OnError != nil {
		s.opts.OnError(err)
	}
	return kept.AsOf, nil
}

// Vectors returns the athletes' features from the wrapped store, or, when it
// fails, a record of the last vectors it gave, marked stale, with rows of missing
// features for athletes it has none of. Vectors remembered from a record carry no
// per-feature event times (see features.ReadRecord).
func (s *Store) Vectors(ctx context.Context, athleteIDs []string,
	asOf time.Time) (arrow.Record, error) {
	lookup, cancel := s.bound(ctx)
	rec, err := s.OnlineStore.Vectors(lookup, athleteIDs, asOf)
	cancel()
	if err == nil {
		s.rememberRecord(rec)
		return rec, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}

	rb := features.NewRecordBuilder(s.opts.Allocator)
	defer rb.Release()
	v := features.NewVector()
	for _, id := range athleteIDs {
		if !s.recall(id, asOf, v) {
			v.Reset(id, asOf)
		}
		if err := rb.Append(v); err != nil {
			return nil, err
		}
	}
	if s.opts.OnError != nil {
		s.opts.OnError(err)
	}
	return rb.NewRecord(), nil
}

// Delete forgets the athlete's kept vector, then deletes the athlete in the
// wrapped store.
func (s *Store) Delete(ctx context.Context, athleteID string) error {
	s.forget(athleteID)
	return s.OnlineStore.Delete(ctx, athleteID)
}

// bound applies the lookup timeout to ctx.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opts.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opts.Timeout)
}

func (s *Store) shardOf(athleteID string) *shard {
	return &s.shards[maphash.String(s.seed, athleteID)%numShards]
}

// remember keeps a copy of v as its athlete's last vector.
func (s *Store) remember(v *features.Vector) {
	sh := s.shardOf(v.AthleteID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	kept := sh.last[v.AthleteID]
	if kept == nil {
		kept = sh.makeRoomLocked(s.opts.MaxAthletes/numShards + 1)
		sh.last[v.AthleteID] = kept
	}
	copyVector(kept, v)
}

// makeRoomLocked returns a vector to keep a new athlete's in, taken from an
// athlete picked at random (map order) when the shard holds limit already.
func (sh *shard) makeRoomLocked(limit int) *features.Vector {
	if len(sh.last) < limit {
		return &features.Vector{}
	}
	for id, v := range sh.last {
		delete(sh.last, id)
		return v
	}
	return &features.Vector{}
}

// rememberRecord keeps the rows of a record from the wrapped store: the athletes
// it knows; the others, whose rows are all missing, are forgotten.
func (s *Store) rememberRecord(rec arrow.Record) {
	vs, err := features.ReadRecord(rec)
	if err != nil {
		return // not a record this build reads; nothing to keep
	}
	for _, v := range vs {
		if slices.ContainsFunc(v.Status, func(st features.Status) bool {
			return st != features.StatusMissing
		}) {
			s.remember(v)
		} else {
			s.forget(v.AthleteID)
		}
	}
}

func (s *Store) forget(athleteID string) {
	sh := s.shardOf(athleteID)
	sh.mu.Lock()
	delete(sh.last, athleteID)
	sh.mu.Unlock()
}

// recall fills dst with the athlete's kept vector as of asOf, every present value
// marked stale, and reports whether it had one to give.
func (s *Store) recall(athleteID string, asOf time.Time, dst *features.Vector) bool {
	sh := s.shardOf(athleteID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	kept := sh.last[athleteID]
	if kept == nil || kept.AsOf.After(asOf) {
		return false
	}
	copyVector(dst, kept)
	dst.AsOf = asOf
	for i, st := range dst.Status {
		if st == features.StatusPresent {
			dst.Status[i] = features.StatusStale
		}
	}
	return true
}

// copyVector makes dst a copy of src, reusing dst's slices.
func copyVector(dst, src *features.Vector) {
	dst.SchemaVersion, dst.AthleteID, dst.AsOf = src.SchemaVersion, src.AthleteID, src.AsOf
	dst.FreshestReading = src.FreshestReading
	dst.Values = append(dst.Values[:0], src.Values...)
	dst.Status = append(dst.Status[:0], src.Status...)
	dst.EventUnixMilli = append(dst.EventUnixMilli[:0], src.EventUnixMilli...)
}
