package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/redis/go-redis/v9"

	"github.com/hydrocast/hydrocast/features"
)

// Defaults of Options.
const (
	DefaultPrefix     = "hydrocast:features:"
	DefaultIdleTTL    = 48 * time.Hour
	DefaultMaxRetries = 32
)

// pipelineAthletes bounds the athletes one pipeline of IngestBatch or Counts
// carries, so that a huge batch does not make one huge request.
const pipelineAthletes = 256

// ErrConflict is returned when an athlete's window changed under every one of
// Options.MaxRetries attempts to update it.
var ErrConflict = errors.New("athlete window kept changing under the update")

// Options tunes a Store. Every replica sharing a Redis must use the same options.
type Options struct {
	// Prefix starts every key of the store, so that several stores (or tests) can
	// share a Redis. It must not contain braces. Empty means DefaultPrefix.
	Prefix string

	// Window tunes every athlete's window; a window keeps the options it was created
	// with.
	Window features.WindowOptions

	// QuarantineCap bounds the distinct (athlete, source, field) quarantine entries,
	// as features.Options.QuarantineCap does. Zero means
	// features.DefaultQuarantineCap.
	QuarantineCap int

	// IdleTTL is how long an athlete's window is kept after its last write. Zero
	// means DefaultIdleTTL; negative, forever.
	IdleTTL time.Duration

	// MaxRetries bounds the attempts of an update that keeps meeting concurrent
	// updates of the same athlete. Zero means DefaultMaxRetries.
	MaxRetries int

	// Allocator allocates the Arrow records of Vectors; nil means
	// memory.DefaultAllocator.
	Allocator memory.Allocator
}

// DefaultOptions returns the options used when none are given.
func DefaultOptions() Options {
	return Options{
		Prefix:        DefaultPrefix,
		Window:        features.DefaultWindowOptions(),
		QuarantineCap: features.DefaultQuarantineCap,
		IdleTTL:       DefaultIdleTTL,
		MaxRetries:    DefaultMaxRetries,
	}
}

// Store is the Redis-backed features.OnlineStore (see the package documentation
// for its layout). It does not own the client; the caller closes it. A Store is
// safe for concurrent use, by any number of replicas.
type Store struct {
	rdb  redis.UniversalClient
	opts Options

	quarantineKey, lastKey, rejectedKey, deletedKey string

	windows sync.Pool // *features.AthleteWindow scratch for decoding
}

var _ features.OnlineStore = (*Store)(nil)

// New returns a store on the client; nil options mean DefaultOptions. It does not
// contact Redis.
func New(rdb redis.UniversalClient, opts *Options) (*Store, error) {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("new redis store: prefix %q contains a brace", o.Prefix)
	}
	if o.QuarantineCap <= 0 {
		o.QuarantineCap = features.DefaultQuarantineCap
	}
	if o.IdleTTL == 0 {
		o.IdleTTL = DefaultIdleTTL
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = DefaultMaxRetries
	}

	meta := o.Prefix + "{meta}:"
	s := &Store{
		rdb:           rdb,
		opts:          o,
		quarantineKey: meta + "quarantine",
		lastKey:       meta + "quarantine_last",
		rejectedKey:   meta + "rejected",
		deletedKey:    meta + "deleted",
	}
	s.windows.New = func() any { return features.NewAthleteWindow("", o.Window) }
	return s, nil
}

func (s *Store) windowKey(athleteID string) string {
	return s.opts.Prefix + "{" + athleteID + "}:w"
}

// tokenSize is the length of the version token before a window's state.
const tokenSize = 8

// casScript stores a window's new value if its token is still the one read (an
// empty string for a window that did not exist): KEYS[1] window, ARGV[1] token
// read, ARGV[2] new value, ARGV[3] time to live in ms, "0" for none. It returns 1
// when stored, 0 on a conflict.
var casScript = redis.NewScript(`
if redis.call('GETRANGE', KEYS[1], 0, 7) ~= ARGV[1] then
	return 0
end
if ARGV[3] == '0' then
	redis.call('SET', KEYS[1], ARGV[2])
else
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`)

// Ingest validates a reading and applies it to its athlete's window (see
// features.OnlineStore). When Redis fails, the result is Rejected and the error
// wraps Redis's, not features.ErrInvalidReading.
func (s *Store) Ingest(ctx context.Context, r features.Reading) (features.AddResult, error) {
	if verr := r.Validate(); verr != nil {
		if err := s.quarantine(ctx, []features.Reading{r}, []error{verr}); err != nil {
			return features.Rejected, fmt.Errorf("ingest reading: %w", err)
		}
		return features.Rejected, fmt.Errorf("ingest reading: %w: %w",
			features.ErrInvalidReading, verr)
	}

	u := &update{athleteID: r.AthleteID, readings: []features.Reading{r}}
	if err := s.updateWindows(ctx, []*update{u}); err != nil {
		return features.Rejected, fmt.Errorf("ingest reading: %w", err)
	}
	if u.last == features.Full {
		return u.last, fmt.Errorf("ingest reading: %w", features.ErrWindowFull)
	}
	return u.last, nil
}

// IngestBatch ingests readings in event-time order (see features.OnlineStore). The
// readings of one athlete are applied in one update; all athletes' updates share
// pipelined round trips. A failure of Redis leaves the batch partly applied:
// retrying it is safe, as replayed readings count as duplicates.
func (s *Store) IngestBatch(ctx context.Context, rs []features.Reading) (features.Counts,
	error) {
	var (
		c        features.Counts
		rejected []features.Reading
		reasons  []error
		updates  []*update
	)
	byAthlete := make(map[string]*update)
	for _, i := range batchOrder(rs) {
		r := &rs[i]
		if err := r.Validate(); err != nil {
			rejected, reasons = append(rejected, *r), append(reasons, err)
			continue
		}
		u := byAthlete[r.AthleteID]
		if u == nil {
			u = &update{athleteID: r.AthleteID}
			byAthlete[r.AthleteID] = u
			updates = append(updates, u)
		}
		u.readings = append(u.readings, *r)
	}

	if err := s.quarantine(ctx, rejected, reasons); err != nil {
		return c, fmt.Errorf("ingest batch: %w", err)
	}
	c.Rejected = uint64(len(rejected))
	for chunk := range slices.Chunk(updates, pipelineAthletes) {
		if err := s.updateWindows(ctx, chunk); err != nil {
			return c, fmt.Errorf("ingest batch: %w", err)
		}
		for _, u := range chunk {
			c.Merge(u.counts)
		}
	}
	return c, nil
}

// batchOrder returns the indexes of rs in stable event-time order.
func batchOrder(rs []features.Reading) []int {
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rs[a].Time.Compare(rs[b].Time) })
	return order
}

// update is the readings of one athlete to apply, and what became of them.
type update struct {
	athleteID string
	readings  []features.Reading

	// Set by each attempt; those of the attempt that stored the window stand.
	counts features.Counts
	last   features.AddResult

	// Of the current attempt.
	token []byte
	value []byte
}

// updateWindows applies each update's readings to its athlete's window, retrying
// the updates that meet a concurrent one. Each attempt is two pipelined round
// trips for all pending updates: read the windows, then store them.
func (s *Store) updateWindows(ctx context.Context, us []*update) error {
	pending := slices.Clone(us)
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == s.opts.MaxRetries {
			return fmt.Errorf("update athlete window: %w", ErrConflict)
		}
		if attempt > 0 {
			backoff(ctx, attempt)
		}
		if err := s.readWindows(ctx, pending); err != nil {
			return err
		}
		stored, err := s.storeWindows(ctx, pending)
		if err != nil {
			return err
		}
		pending = slices.DeleteFunc(pending, func(u *update) bool { return stored[u] })
	}
	return nil
}

// backoff sleeps a random while, growing with the attempt, so that updates that
// collided do not collide again in step.
func backoff(ctx context.Context, attempt int) {
	d := time.Duration(rand.Int64N(int64(50*time.Microsecond) << min(attempt, 10)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// readWindows reads the windows of the updates and applies their readings,
// leaving each update's token and new value for storeWindows.
func (s *Store) readWindows(ctx context.Context, us []*update) error {
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(us))
	for i, u := range us {
		gets[i] = pipe.Get(ctx, s.windowKey(u.athleteID))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read athlete windows: %w", err)
	}

	scratch := s.windows.Get().(*features.AthleteWindow)
	defer s.windows.Put(scratch)
	for i, u := range us {
		raw, err := gets[i].Bytes()
		w := scratch
		switch {
		case errors.Is(err, redis.Nil):
			w, u.token = features.NewAthleteWindow(u.athleteID, s.opts.Window), nil
		case err != nil:
			return fmt.Errorf("read athlete window: %w", err)
		default:
			if err := decodeValue(raw, w); err != nil {
				return err
			}
			u.token = raw[:tokenSize]
		}
		u.apply(w)
	}
	return nil
}

// apply adds the update's readings to w and keeps the new value to store: a new
// token, then the window's state.
func (u *update) apply(w *features.AthleteWindow) {
	before := w.Counts()
	for _, r := range u.readings {
		u.last = w.Add(r)
	}
	u.counts = countsSince(w.Counts(), before)
	u.value = binary.LittleEndian.AppendUint64(u.value[:0], rand.Uint64())
	u.value, _ = w.AppendBinary(u.value)
}

// storeWindows writes the new values of the updates whose windows did not change
// since they were read, and reports which were stored.
func (s *Store) storeWindows(ctx context.Context, us []*update) (map[*update]bool, error) {
	ttl := "0"
	if s.opts.IdleTTL > 0 {
		ttl = strconv.FormatInt(s.opts.IdleTTL.Milliseconds(), 10)
	}
	results, err := s.runScript(ctx, casScript, len(us), func(i int) ([]string, []any) {
		u := us[i]
		return []string{s.windowKey(u.athleteID)}, []any{u.token, u.value, ttl}
	})
	if err != nil {
		return nil, fmt.Errorf("store athlete windows: %w", err)
	}
	stored := make(map[*update]bool, len(us))
	for i, u := range us {
		if results[i] == 1 {
			stored[u] = true
		}
	}
	return stored, nil
}

// runScript runs a script n times in one pipeline, with the keys and arguments
// that args returns for each, and returns the integer results. When Redis has
// lost the script (a restart, a failover), it loads it and runs the calls again:
// a call that met NOSCRIPT did not run.
func (s *Store) runScript(ctx context.Context, script *redis.Script, n int,
	args func(i int) ([]string, []any)) ([]int64, error) {
	out := make([]int64, n)
	todo := make([]int, n)
	for i := range todo {
		todo[i] = i
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt == 2 {
			return nil, errors.New("script missing after loading it")
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(todo))
		for k, i := range todo {
			keys, argv := args(i)
			cmds[k] = script.EvalSha(ctx, pipe, keys, argv...)
		}
		pipe.Exec(ctx) // errors are read per command below

		var missing []int
		for k, cmd := range cmds {
			v, err := cmd.Int64()
			switch {
			case redis.HasErrorPrefix(err, "NOSCRIPT"):
				missing = append(missing, todo[k])
			case err != nil:
				return nil, err
			default:
				out[todo[k]] = v
			}
		}
		if len(missing) > 0 {
			if err := script.Load(ctx, s.rdb).Err(); err != nil {
				return nil, fmt.Errorf("load script: %w", err)
			}
		}
		todo = missing
	}
	return out, nil
}

// countsSince returns the outcomes counted in now but not in before.
func countsSince(now, before features.Counts) features.Counts {
	return features.Counts{
		Applied:   now.Applied - before.Applied,
		Duplicate: now.Duplicate - before.Duplicate,
		Replaced:  now.Replaced - before.Replaced,
		Late:      now.Late - before.Late,
		Full:      now.Full - before.Full,
		Rejected:  now.Rejected - before.Rejected,
	}
}

// decodeValue decodes a window key's value (token, then state) into w.
func decodeValue(raw []byte, w *features.AthleteWindow) error {
	if len(raw) < tokenSize {
		return fmt.Errorf("decode athlete window: %w: value of %d bytes",
			features.ErrStateCorrupt, len(raw))
	}
	if err := w.UnmarshalBinary(raw[tokenSize:]); err != nil {
		return err
	}
	return nil
}
