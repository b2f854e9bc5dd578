package wal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by a store's methods after Close.
var ErrClosed = errors.New("wal store closed")

// ErrRecordTooLarge is returned for a reading whose record would exceed
// MaxRecordBytes (an athlete id or source of about a megabyte).
var ErrRecordTooLarge = errors.New("wal record too large")

// queueLength bounds the appends waiting for the writer; more block their callers.
const queueLength = 4096

// request is one append: records written together, then apply run in log order.
type request struct {
	payloads [][]byte
	apply    func(end position) // may be nil
	seal     bool               // start a new segment once the request is applied
	done     chan error
	end      position // where the request's records end; set by the writer
}

// writer appends records to the segments of a directory with group commit: one
// goroutine (run) takes the queued requests, writes them in one write call, fsyncs
// the segment once, then runs each request's apply in queue order and releases its
// caller. Because apply runs on that goroutine, in log order, the store sees the
// records in exactly the order recovery will replay them.
type writer struct {
	dir      string
	segBytes int64
	delay    time.Duration
	maxBatch int

	reqs    chan *request
	mu      sync.RWMutex
	closed  bool          // guarded by mu; reqs is closed with it
	stopped chan struct{} // closed when run returns
	rotated chan struct{} // signalled, without blocking, after each new segment

	written atomic.Int64 // bytes appended since the writer started
	syncs   atomic.Int64 // batches fsynced since the writer started

	// Owned by run.
	f        *os.File
	seg      uint64
	size     int64
	buf      []byte
	batch    []*request
	timer    *time.Timer
	err      error // sticky: after a failed write or fsync nothing more is written
	closeErr error // read after stopped is closed
}

// newWriter starts a writer on a new segment numbered index.
func newWriter(dir string, index uint64, o *Options) (*writer, error) {
	f, err := createSegment(dir, index)
	if err != nil {
		return nil, err
	}
	w := &writer{
		dir:      dir,
		segBytes: o.SegmentBytes,
		delay:    o.MaxBatchDelay,
		maxBatch: o.MaxBatchBytes,
		reqs:     make(chan *request, queueLength),
		stopped:  make(chan struct{}),
		rotated:  make(chan struct{}, 1),
		f:        f,
		seg:      index,
		size:     segmentHeaderSize,
		timer:    time.NewTimer(time.Hour),
	}
	w.timer.Stop()
	go w.run()
	return w, nil
}

// append queues the payloads as one request and returns once they are durable and
// apply has run. The context bounds only the wait for room in the queue: once
// queued, the request is written whatever happens to the caller, so append waits
// for it (an fsync or two) rather than leave the outcome unknown. With no payloads
// it is a barrier: apply runs after every record queued before it.
func (w *writer) append(ctx context.Context, apply func(position), payloads ...[]byte) error {
	return w.enqueue(ctx, &request{payloads: payloads, apply: apply})
}

// appendSealed is append, after which the writer starts a new segment: the
// request's records are the last of theirs, and nothing queued after it joins them.
// A snapshot taken after it can then drop every segment the records are in.
func (w *writer) appendSealed(ctx context.Context, apply func(position),
	payloads ...[]byte) error {
	return w.enqueue(ctx, &request{payloads: payloads, apply: apply, seal: true})
}

func (w *writer) enqueue(ctx context.Context, req *request) error {
	for _, p := range req.payloads {
		if len(p) > MaxRecordBytes {
			return ErrRecordTooLarge
		}
	}
	req.done = make(chan error, 1)

	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.reqs <- req:
	case <-ctx.Done():
		w.mu.RUnlock()
		return fmt.Errorf("queue wal record: %w", ctx.Err())
	}
	w.mu.RUnlock()
	return <-req.done
}

// run is the writer's goroutine: it commits batches until the queue is closed.
func (w *writer) run() {
	defer close(w.stopped)
	for req := range w.reqs {
		w.batch = append(w.batch[:0], req)
		if !req.seal {
			w.gather(requestBytes(req))
		}
		w.commit()
		clear(w.batch)
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.closeErr = fmt.Errorf("close segment: %w", err)
	}
}

// gather adds to the batch the requests that arrive within the batch delay, up to
// the batch's size bound; a sealing request ends the batch.
func (w *writer) gather(size int) {
	if w.delay <= 0 {
		return
	}
	w.timer.Reset(w.delay)
	defer w.timer.Stop()
	for size < w.maxBatch {
		select {
		case req, ok := <-w.reqs:
			if !ok {
				return
			}
			w.batch = append(w.batch, req)
			size += requestBytes(req)
			if req.seal {
				return
			}
		case <-w.timer.C:
			return
		}
	}
}

func requestBytes(req *request) int {
	n := 0
	for _, p := range req.payloads {
		n += frameHeaderSize + len(p)
	}
	return n
}

// commit writes and fsyncs the batch, then applies and releases its requests in
// order, and starts a new segment when this one has grown past its size.
func (w *writer) commit() {
	if w.err == nil {
		w.err = w.writeBatch()
	}
	if w.err != nil {
		for _, req := range w.batch {
			req.done <- w.err
		}
		return
	}

	for _, req := range w.batch {
		if req.apply != nil {
			req.apply(req.end)
		}
		req.done <- nil
	}
	if w.size >= w.segBytes || w.batch[len(w.batch)-1].seal {
		w.err = w.rotate()
	}
}

func (w *writer) writeBatch() error {
	w.buf = w.buf[:0]
	for _, req := range w.batch {
		for _, p := range req.payloads {
			w.buf = appendFrame(w.buf, p)
		}
		req.end = position{segment: w.seg, offset: w.size + int64(len(w.buf))}
	}
	if len(w.buf) == 0 {
		return nil
	}

	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("write segment %s: %w", segmentName(w.seg), err)
	}
	// An fsync that failed may have dropped the pages it could not write, so the
	// error sticks rather than being retried (see PostgreSQL's "fsyncgate").
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync segment %s: %w", segmentName(w.seg), err)
	}
	w.size += int64(len(w.buf))
	w.written.Add(int64(len(w.buf)))
	w.syncs.Add(1)
	if cap(w.buf) > 4*w.maxBatch {
		w.buf = nil // a huge batch passed; do not keep its buffer
	}
	return nil
}

// rotate closes the current segment and starts the next.
func (w *writer) rotate() error {
	f, err := createSegment(w.dir, w.seg+1)
	if err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		f.Close()
		return fmt.Errorf("close segment %s: %w", segmentName(w.seg), err)
	}
	w.f, w.seg, w.size = f, w.seg+1, segmentHeaderSize
	select {
	case w.rotated <- struct{}{}:
	default:
	}
	return nil
}

// close lets the queued requests commit, stops the writer and closes its segment.
func (w *writer) close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.reqs)
	}
	w.mu.Unlock()
	<-w.stopped
	return w.closeErr
}
