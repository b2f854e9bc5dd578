// Package offline is the feature store's offline log: every reading, as received,
// kept in Parquet files partitioned by the UTC date of its event time,
//
//	readings/date=YYYY-MM-DD/part-<seq>.parquet
//
// in the layout of ReadingsSchema, sorted by athlete, event time and source within a
// file. Training sets are built from it (see package pit) and per-athlete export
// and deletion work on it. DuckDB reads the folder with
// read_parquet('readings/*/*.parquet', hive_partitioning = true), pandas with
// read_parquet('readings').
//
// A file appears whole or not at all: it is written under a hidden temporary name
// and linked into place when complete, so readers never see half a file, and two
// writers sharing a folder never take the same name.
package offline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var (
	// ErrClosed is returned by Append and Flush after Close.
	ErrClosed = errors.New("offline store closed")

	// ErrNotReadings is wrapped by errors about a Parquet file in the readings folder
	// that is not a readings table: a required column missing or of another type, or
	// a file the decoder cannot read.
	ErrNotReadings = errors.New("not a readings file")
)

// Defaults of Options.
const (
	DefaultMaxBufferedRows = 100_000
	DefaultFlushInterval   = time.Minute
	DefaultRowGroupRows    = 128 * 1024
)

// readingsDir is the folder of the readings table under a store's root.
const readingsDir = "readings"

// Options tunes a Store.
type Options struct {
	// MaxBufferedRows is how many rows Append buffers before it writes them out
	// itself. Zero means DefaultMaxBufferedRows.
	MaxBufferedRows int

	// FlushInterval is how long a row may wait in the buffer before Run writes it
	// out. Zero means DefaultFlushInterval.
	FlushInterval time.Duration

	// RowGroupRows is the most rows of one Parquet row group. Smaller groups let a
	// scan for a few athletes or a short time skip more of a file; larger ones
	// compress better. Zero means DefaultRowGroupRows.
	RowGroupRows int

	// Allocator allocates Arrow buffers; nil means memory.DefaultAllocator.
	Allocator memory.Allocator

	// Now is the clock behind ingest times and buffer ages; nil means time.Now.
	Now func() time.Time
}

// Store is an offline store rooted at one folder. Append buffers rows; Flush, a
// full buffer, Run's timer and Close write them out as one file per date. It is
// safe for concurrent use.
//
// TODO: a process that dies while writing leaves a hidden .part-*.tmp file in a
// partition folder. Readers ignore such files, but nothing removes them; they cost
// disk until someone deletes them by hand.
type Store struct {
	root string
	opts Options

	mu     sync.Mutex
	buf    []Row     // guarded by mu
	since  time.Time // when the oldest buffered row was appended; guarded by mu
	closed bool      // guarded by mu

	// fileMu serialises writing files with rewriting them, so that a deletion never
	// misses a file being written.
	fileMu sync.Mutex
}

// Open returns the store rooted at dir, creating dir/readings if needed. Nil
// options mean the defaults.
func Open(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBufferedRows <= 0 {
		o.MaxBufferedRows = DefaultMaxBufferedRows
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Now == nil {
		o.Now = time.Now
	}

	if err := os.MkdirAll(filepath.Join(dir, readingsDir), 0o755); err != nil {
		return nil, fmt.Errorf("open offline store: %w", err)
	}
	return &Store{root: dir, opts: o}, nil
}

// Dir returns the folder the store is rooted at.
func (s *Store) Dir() string { return s.root }

// Append buffers rows; a row without an ingest time gets the store's clock's time.
// When the buffer reaches MaxBufferedRows, Append writes it out before returning.
func (s *Store) Append(ctx context.Context, rows ...Row) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("append readings: %w", ErrClosed)
	}
	now := s.opts.Now()
	if len(s.buf) == 0 {
		s.since = now
	}
	for _, r := range rows {
		if r.IngestTime.IsZero() {
			r.IngestTime = now
		}
		s.buf = append(s.buf, r)
	}
	full := len(s.buf) >= s.opts.MaxBufferedRows
	s.mu.Unlock()

	if full {
		return s.Flush(ctx)
	}
	return nil
}

// Flush writes every buffered row out, one new file per event date. Rows that could
// not be written go back to the buffer, so a later Flush retries them.
//
// Flushes run one at a time: a Flush that finds another writing waits for it, so that
// Close returns only once every row appended before it is on disk, even while Run's
// last flush is still writing.
func (s *Store) Flush(ctx context.Context) error {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	s.mu.Lock()
	rows := s.buf
	s.buf = nil
	s.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}

	failed, err := s.writeRows(ctx, rows)
	if err != nil {
		s.mu.Lock()
		s.buf = append(failed, s.buf...)
		s.mu.Unlock()
		return fmt.Errorf("flush readings: %w", err)
	}
	return nil
}

// Run writes buffered rows out whenever the oldest has waited FlushInterval, until
// ctx is done; then it flushes what is left. It returns the first write error.
func (s *Store) Run(ctx context.Context) error {
	tick := time.NewTicker(max(s.opts.FlushInterval/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.Flush(context.WithoutCancel(ctx))
		case <-tick.C:
		}
		s.mu.Lock()
		due := len(s.buf) > 0 && s.opts.Now().Sub(s.since) >= s.opts.FlushInterval
		s.mu.Unlock()
		if !due {
			continue
		}
		if err := s.Flush(ctx); err != nil {
			return err
		}
	}
}

// Close writes out the buffer and refuses further appends.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.Flush(context.Background())
}

// forgetBuffered drops the buffered rows of an athlete and returns how many.
func (s *Store) forgetBuffered(athleteID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.buf)
	s.buf = slices.DeleteFunc(s.buf, func(r Row) bool { return r.AthleteID == athleteID })
	return int64(n - len(s.buf))
}

// writeRows writes rows as one file per event date and returns the rows of the
// dates it could not write. The caller holds fileMu.
func (s *Store) writeRows(ctx context.Context, rows []Row) ([]Row, error) {
	rows = sortRows(rows)
	for start := 0; start < len(rows); {
		d := dayOf(rows[start].Time)
		end := start + 1
		for end < len(rows) && dayOf(rows[end].Time) == d {
			end++
		}
		date := time.Unix(d*secondsPerDay, 0).UTC()
		if err := s.writePartition(ctx, date, rows[start:end]); err != nil {
			return rows[start:], err
		}
		start = end
	}
	return nil, nil
}

// sortKey is what rows are sorted by before they are written, computed once.
type sortKey struct {
	day     int64
	athlete string
	at      time.Time
	source  string
	i       int
}

// sortRows returns the rows in a new slice ordered by event date, athlete, event
// time and source. Sorting small keys rather than the rows themselves spares
// moving whole rows at every swap.
func sortRows(rows []Row) []Row {
	keys := make([]sortKey, len(rows))
	for i := range rows {
		r := &rows[i]
		keys[i] = sortKey{dayOf(r.Time), r.AthleteID, r.Time, r.Source, i}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.athlete, b.athlete),
			a.at.Compare(b.at), cmp.Compare(a.source, b.source))
	})
	out := make([]Row, len(rows))
	for k, key := range keys {
		out[k] = rows[key.i]
	}
	return out
}

// secondsPerDay is the span of one partition.
const secondsPerDay = 24 * 60 * 60

// dayOf returns the number of the UTC day of t, counting from 1970-01-01.
func dayOf(t time.Time) int64 {
	d := t.Unix() / secondsPerDay
	if t.Unix()%secondsPerDay < 0 {
		d--
	}
	return d
}

// partitionDir returns the folder of the partition of date.
func (s *Store) partitionDir(date time.Time) string {
	return filepath.Join(s.root, readingsDir, "date="+date.Format(time.DateOnly))
}

// writePartition writes rows, all of one date, as a new file of its partition.
func (s *Store) writePartition(ctx context.Context, date time.Time, rows []Row) error {
	dir := s.partitionDir(date)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create partition: %w", err)
	}
	tmp, err := writeTemp(dir, readingsSchema, nil, &s.opts,
		func(write func(arrow.Record) error) error {
			for k := 0; k < len(rows); k += s.opts.RowGroupRows {
				if err := ctx.Err(); err != nil {
					return err
				}
				chunk := rows[k:min(k+s.opts.RowGroupRows, len(rows))]
				rec := NewRecord(s.opts.Allocator, chunk)
				err := write(rec)
				rec.Release()
				if err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("write partition %s: %w", date.Format(time.DateOnly), err)
	}
	if err := publishNew(tmp, dir); err != nil {
		return fmt.Errorf("write partition %s: %w", date.Format(time.DateOnly), err)
	}
	return nil
}
