package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Options tune a Log. The zero value syncs after every record.
type Options struct {
	// SyncEvery bounds how long a written record may wait for fsync. Zero syncs after
	// every record, so a record survives a power cut once Record returns; a positive
	// value trades that for fewer fsyncs under load, syncing at most that long after
	// a write; a negative value leaves syncing to the operating system.
	SyncEvery time.Duration

	// Now stamps records whose Time is zero. Nil means time.Now.
	Now func() time.Time
}

// ErrTornTail is returned by Open when the file's last line is incomplete, as a crash
// in the middle of a write leaves it. Appending after it would hide the damage; move
// the file aside (and keep it) to start a new chain.
var ErrTornTail = errors.New("audit file ends in an incomplete line")

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit log closed")

// Log appends records to an audit file. One Log per file: two writers, in one process
// or two, would fork the chain. A Log is safe for concurrent use.
type Log struct {
	opts Options

	mu      sync.Mutex
	f       *os.File    // guarded by mu; nil once closed
	seq     uint64      // guarded by mu: the last record's sequence number
	head    string      // guarded by mu: the last record's hash
	dirty   bool        // guarded by mu: written since the last fsync
	syncing *time.Timer // guarded by mu: the pending delayed fsync
}

// Open opens the audit file at path for appending, creating it with mode 0600, and
// continues the chain from its last record.
func Open(path string, opts Options) (*Log, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit file: %w", err)
	}
	seq, head, err := lastLink(path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Log{opts: opts, f: f, seq: seq, head: head}, nil
}

// lastLink returns the sequence number and hash of the file's last record, or zero
// and Genesis for an empty file. It reads only the file's tail.
func lastLink(path string) (uint64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("open audit file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, "", fmt.Errorf("stat audit file: %w", err)
	}
	if fi.Size() == 0 {
		return 0, Genesis, nil
	}

	start := max(0, fi.Size()-maxLineBytes-1)
	tail, err := io.ReadAll(io.NewSectionReader(f, start, fi.Size()-start))
	if err != nil {
		return 0, "", fmt.Errorf("read audit file: %w", err)
	}
	if tail[len(tail)-1] != '\n' {
		return 0, "", ErrTornTail
	}
	last := tail[bytes.LastIndexByte(tail[:len(tail)-1], '\n')+1 : len(tail)-1]
	rec, _, hash, err := decode(last)
	if err != nil {
		return 0, "", fmt.Errorf("read last audit record: %w", err)
	}
	return rec.Seq, hash, nil
}

// Record appends r to the file, linked to the record before. It fills r's Seq and
// Prev, and Time when zero. A failed write leaves the chain where it was.
func (l *Log) Record(r Record) error {
	if r.Time.IsZero() {
		r.Time = l.opts.Now()
	}
	r.Time = r.Time.UTC()
	r.Reason = clip(r.Reason, 512)
	r.RequestID = clip(r.RequestID, 128)
	r.Principal = clip(r.Principal, 256)

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	r.Seq, r.Prev = l.seq+1, l.head
	line, hash, err := encode(r)
	if err != nil {
		return err
	}

	// One write per record: with O_APPEND it lands whole at the end of the file.
	if _, err := l.f.Write(line); err != nil {
		return fmt.Errorf("write audit record: %w", err)
	}
	l.seq, l.head, l.dirty = r.Seq, hash, true
	return l.syncLocked()
}

// syncLocked applies the sync policy after a write.
func (l *Log) syncLocked() error {
	switch {
	case l.opts.SyncEvery == 0:
		return l.fsyncLocked()
	case l.opts.SyncEvery > 0 && l.syncing == nil:
		l.syncing = time.AfterFunc(l.opts.SyncEvery, l.delayedSync)
	}
	return nil
}

func (l *Log) delayedSync() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.syncing = nil
	if l.f != nil {
		// TODO: a failed delayed fsync is lost here; surface it through a metric so
		// that operators learn the audit file may not be durable.
		_ = l.fsyncLocked()
	}
}

func (l *Log) fsyncLocked() error {
	if !l.dirty {
		return nil
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync audit file: %w", err)
	}
	l.dirty = false
	return nil
}

// Head returns the hash of the last record written, Genesis when there is none.
func (l *Log) Head() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Close syncs what is unsynced and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	if l.syncing != nil {
		l.syncing.Stop()
		l.syncing = nil
	}
	err := l.fsyncLocked()
	err = errors.Join(err, l.f.Close())
	l.f = nil
	return err
}
