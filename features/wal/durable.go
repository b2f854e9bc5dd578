package wal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/hydrocast/hydrocast/features"
)

// Defaults of Options.
const (
	DefaultSegmentBytes     = 64 << 20
	DefaultMaxBatchDelay    = 2 * time.Millisecond
	DefaultMaxBatchBytes    = 1 << 20
	DefaultSnapshotInterval = 5 * time.Minute
	DefaultSnapshotBytes    = 256 << 20
)

// Options tunes a Durable store.
type Options struct {
	// Store tunes the in-memory store; nil means features.DefaultOptions().
	Store *features.Options

	// SegmentBytes is the size, in bytes, past which the log starts a new segment.
	// Zero means DefaultSegmentBytes.
	SegmentBytes int64

	// MaxBatchDelay is how long the log waits for more appends to share one write
	// and fsync with the first: the added latency of a lone append, bought back many
	// times over by concurrent ones. Zero or negative fsyncs every append on its own.
	MaxBatchDelay time.Duration

	// MaxBatchBytes ends the wait for more appends once a batch holds that many
	// bytes. Zero means DefaultMaxBatchBytes.
	MaxBatchBytes int

	// SnapshotInterval is how often a snapshot is taken if anything was logged
	// since the last. Zero means DefaultSnapshotInterval; negative, never on a
	// timer.
	SnapshotInterval time.Duration

	// SnapshotBytes takes a snapshot early once that many bytes were logged since
	// the last, checked when a segment fills. Zero means DefaultSnapshotBytes;
	// negative, never by size.
	SnapshotBytes int64

	// SkipCorrupt makes recovery skip damaged records in the middle of the log,
	// with a warning, instead of failing. The readings in them are lost.
	SkipCorrupt bool

	// Logger receives recovery's warnings and the failures of background
	// snapshots; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the options used when none are given.
func DefaultOptions() Options {
	return Options{
		SegmentBytes:     DefaultSegmentBytes,
		MaxBatchDelay:    DefaultMaxBatchDelay,
		MaxBatchBytes:    DefaultMaxBatchBytes,
		SnapshotInterval: DefaultSnapshotInterval,
		SnapshotBytes:    DefaultSnapshotBytes,
	}
}

// Durable is a features.OnlineStore whose content survives a crash of the process:
// an in-memory features.Store whose writes (Ingest, IngestBatch, Delete) go to a
// write-ahead log first. A write returns once its records are fsynced and applied;
// concurrent writes share fsyncs (group commit). Reads go straight to memory.
//
// A snapshot of the store is written periodically, while writes wait: the pause
// grows with the store, about 0.1 to 0.2 s per ten thousand athletes holding an
// hour of readings each (BenchmarkSnapshot); the fsync comes after the pause.
//
// TODO: snapshots stop every writer for as long as the whole store takes to
// serialise; a store of hundreds of thousands of athletes needs per-shard
// snapshots (each shard paused alone, with the log position at which it was
// taken) to keep ingest latency flat.
type Durable struct {
	dir    string
	opts   Options
	logger *slog.Logger
	store  *features.Store
	w      *writer
	lock   *os.File

	snapMu      sync.Mutex   // one snapshot at a time
	snapWritten atomic.Int64 // the log's bytes written when the last snapshot was taken

	stop      chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ features.OnlineStore = (*Durable)(nil)

// Open opens the store kept in dir, creating the directory if needed: it loads the
// newest snapshot, replays the log written after it (see the package
// documentation for how damage is handled), and starts a new segment. Nil options
// mean DefaultOptions. Only one process may have a directory open; another fails
// with ErrLocked.
func Open(dir string, opts *Options) (*Durable, error) {
	o := DefaultOptions()
	if opts != nil {
		o = *opts
	}
	o.SegmentBytes = cmp.Or(max(o.SegmentBytes, 0), DefaultSegmentBytes)
	o.MaxBatchBytes = cmp.Or(max(o.MaxBatchBytes, 0), DefaultMaxBatchBytes)
	o.SnapshotInterval = cmp.Or(o.SnapshotInterval, DefaultSnapshotInterval)
	o.SnapshotBytes = cmp.Or(o.SnapshotBytes, DefaultSnapshotBytes)
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	rec, err := recoverDir(dir, &o, logger)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("recover wal: %w", err)
	}
	w, err := newWriter(dir, rec.next, &o)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open wal: %w", err)
	}

	d := &Durable{dir: dir, opts: o, logger: logger, store: rec.store, w: w, lock: lock,
		stop: make(chan struct{}), loopDone: make(chan struct{})}
	// A snapshot now moves the start of the log past skipped damage, which the
	// next recovery would otherwise meet again, and past deleted athletes' records
	// (an erasure a crash interrupted).
	if rec.skipped || rec.deleted {
		if err := d.Snapshot(context.Background()); err != nil {
			close(d.loopDone)
			d.Close()
			return nil, err
		}
	}
	go d.snapshotLoop()
	return d, nil
}

// Ingest logs the reading, then applies it (see features.OnlineStore). A reading
// that fails validation is logged too, so that its quarantine entry survives a
// restart. When the log fails, the result is Rejected and the error wraps the
// log's, not ErrInvalidReading.
func (d *Durable) Ingest(ctx context.Context, r features.Reading) (features.AddResult,
	error) {
	var (
		res      features.AddResult
		applyErr error
	)
	apply := func(position) { res, applyErr = d.store.Ingest(context.Background(), r) }
	if err := d.w.append(ctx, apply, AppendReading(nil, &r)); err != nil {
		return features.Rejected, fmt.Errorf("ingest reading: %w", err)
	}
	return res, applyErr
}

// IngestBatch logs the readings, in event-time order, then applies them (see
// features.OnlineStore). The batch shares one fsync.
func (d *Durable) IngestBatch(ctx context.Context, rs []features.Reading) (features.Counts,
	error) {
	if len(rs) == 0 {
		return features.Counts{}, nil
	}
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b features.Reading) int {
		return a.Time.Compare(b.Time)
	})

	var buf []byte
	ends := make([]int, len(sorted))
	for i := range sorted {
		buf = AppendReading(buf, &sorted[i])
		ends[i] = len(buf)
	}
	payloads := make([][]byte, len(sorted))
	start := 0
	for i, end := range ends {
		payloads[i], start = buf[start:end], end
	}

	var c features.Counts
	apply := func(position) { c, _ = d.store.IngestBatch(context.Background(), sorted) }
	if err := d.w.append(ctx, apply, payloads...); err != nil {
		return features.Counts{}, fmt.Errorf("ingest batch: %w", err)
	}
	return c, nil
}

// Delete forgets the athlete and erases them from the store's files (see
// EraseAthlete).
func (d *Durable) Delete(ctx context.Context, athleteID string) error {
	return d.EraseAthlete(ctx, athleteID)
}

// EraseAthlete forgets the athlete and leaves nothing of them in the store's
// directory: it logs the deletion as the last record of its segment, applies it,
// then takes a snapshot, which no longer holds the athlete and makes every older
// segment and snapshot redundant, so they are removed. A crash in between leaves
// the deletion in the log; Open replays it and finishes the erasure.
//
// Writes wait while the snapshot serialises the store (see Durable), so erasing
// costs as much as a snapshot. Erasing an athlete the store does not hold is not
// an error. Readings of the athlete that arrive meanwhile are kept: stop the
// athlete's ingest first.
func (d *Durable) EraseAthlete(ctx context.Context, athleteID string) error {
	// Holding snapMu keeps a snapshot taken before the deletion from being renamed
	// into place after the erasing one, which would bring the athlete back.
	d.snapMu.Lock()
	defer d.snapMu.Unlock()
	apply := func(position) { d.store.Delete(context.Background(), athleteID) }
	if err := d.w.appendSealed(ctx, apply, AppendDelete(nil, athleteID)); err != nil {
		return fmt.Errorf("delete athlete: %w", err)
	}
	if err := d.snapshotLocked(ctx); err != nil {
		return fmt.Errorf("erase athlete from the log: %w", err)
	}
	return nil
}

// Vector fills dst with the athlete's features (see features.OnlineStore).
func (d *Durable) Vector(ctx context.Context, athleteID string, asOf time.Time,
	dst *features.Vector) error {
	return d.store.Vector(ctx, athleteID, asOf, dst)
}

// Vectors returns the athletes' features as an Arrow record (see
// features.OnlineStore).
func (d *Durable) Vectors(ctx context.Context, athleteIDs []string,
	asOf time.Time) (arrow.Record, error) {
	return d.store.Vectors(ctx, athleteIDs, asOf)
}

// Newest returns the event time of the athlete's newest reading (see
// features.OnlineStore).
func (d *Durable) Newest(ctx context.Context, athleteID string) (time.Time, error) {
	return d.store.Newest(ctx, athleteID)
}

// Athletes returns the ids of the athletes held, sorted.
func (d *Durable) Athletes(ctx context.Context) ([]string, error) {
	return d.store.Athletes(ctx)
}

// Quarantine returns the quarantine counts (see features.OnlineStore).
func (d *Durable) Quarantine(ctx context.Context) ([]features.QuarantineEntry, error) {
	return d.store.Quarantine(ctx)
}

// Counts returns the outcomes of all readings offered to the store, before and
// after restarts.
func (d *Durable) Counts(ctx context.Context) (features.Counts, error) {
	return d.store.Counts(ctx)
}

// Snapshot writes a snapshot of the store now and deletes the log it makes
// redundant. Writes wait while the store is serialised; the file is then fsynced
// and renamed into place without holding them up.
func (d *Durable) Snapshot(ctx context.Context) error {
	d.snapMu.Lock()
	defer d.snapMu.Unlock()
	return d.snapshotLocked(ctx)
}

// snapshotLocked is Snapshot; the caller holds snapMu.
func (d *Durable) snapshotLocked(ctx context.Context) error {
	tmp, err := os.CreateTemp(d.dir, snapshotTemp)
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	defer tmp.Close()

	var (
		pos     position
		written int64
		werr    error
	)
	err = d.w.append(ctx, func(p position) {
		pos, written = p, d.w.written.Load()
		werr = writeSnapshot(tmp, p, d.store)
	})
	if err = cmp.Or(err, werr); err != nil {
		return fmt.Errorf("take snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(d.dir, snapshotName(pos))); err != nil {
		return fmt.Errorf("rename snapshot: %w", err)
	}
	if err := syncDir(d.dir); err != nil {
		return err
	}
	d.snapWritten.Store(written)

	if err := removeSnapshotsExcept(d.dir, pos); err != nil {
		return err
	}
	return removeSegmentsBefore(d.dir, pos.segment)
}

// snapshotLoop takes snapshots on the interval and when the log has grown.
func (d *Durable) snapshotLoop() {
	defer close(d.loopDone)
	var tick <-chan time.Time
	if d.opts.SnapshotInterval > 0 {
		t := time.NewTicker(d.opts.SnapshotInterval)
		defer t.Stop()
		tick = t.C
	}
	grown := func() int64 { return d.w.written.Load() - d.snapWritten.Load() }
	for {
		select {
		case <-d.stop:
			return
		case <-tick:
			if grown() == 0 {
				continue
			}
		case <-d.w.rotated:
			if d.opts.SnapshotBytes < 0 || grown() < d.opts.SnapshotBytes {
				continue
			}
		}
		err := d.Snapshot(context.Background())
		if err != nil && !errors.Is(err, ErrClosed) {
			d.logger.Warn("wal snapshot failed", "err", err)
		}
	}
}

// Close stops the snapshots, lets pending writes finish and closes the log. It
// takes no snapshot: the next Open replays the log. Writes after Close fail with
// ErrClosed; reads go on answering from memory.
func (d *Durable) Close() error {
	d.closeOnce.Do(func() {
		close(d.stop)
		<-d.loopDone
		d.closeErr = d.w.close()
		if err := d.lock.Close(); err != nil && d.closeErr == nil {
			d.closeErr = fmt.Errorf("release wal lock: %w", err)
		}
	})
	return d.closeErr
}
