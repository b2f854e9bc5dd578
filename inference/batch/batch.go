// Package batch is a dynamic batcher: it gathers concurrent requests to one model
// version into a single run, along the first (batch) dimension of every input, and
// hands each caller back exactly its own rows of every output.
//
// A Batcher waits at most Options.MaxDelay after a request arrives for others to join
// it, and runs at once when Options.MaxSize rows are waiting. Its queue is bounded:
// a request that finds it full fails at once with ErrQueueFull. A request whose
// context has ended by the time its batch forms is dropped and never reaches the
// model. Workers start when requests arrive and stop when the queue is empty, so an
// idle Batcher holds no goroutine and needs no Close.
package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hydrocast/hydrocast/models/ort"
)

var (
	// ErrQueueFull means the queue held Options.QueueSize requests already.
	ErrQueueFull = errors.New("batch queue full")

	// ErrBadOutput means the model gave an output whose first dimension is not the
	// batch's row count, so it cannot be split between callers.
	ErrBadOutput = errors.New("model output cannot be split by rows")
)

// RunFunc runs a model on inputs whose first dimension is the batch.
type RunFunc func(ctx context.Context, inputs []ort.Tensor) ([]ort.Tensor, error)

// Options tune a Batcher. The zero value of each field selects the default.
type Options struct {
	// MaxSize is the most rows one run takes. A request with more rows runs alone.
	// Zero means 32.
	MaxSize int

	// MaxDelay is how long the oldest waiting request may wait for others before its
	// batch runs, however small. Zero means no wait: a free worker runs whatever is
	// queued, so batches form only while all workers are busy.
	MaxDelay time.Duration

	// QueueSize is the most requests that may wait; one more fails with
	// ErrQueueFull. Zero means 1024.
	QueueSize int

	// Instances is how many batches may run at once. Zero means 1.
	Instances int

	// OnRun, when not nil, is called after every run of the model with the rows it
	// took, for metrics. It must not block.
	OnRun func(rows int)

	// OnQueue, when not nil, is called with +1 when a request joins the queue and
	// with minus the number of requests that leave it, for a run or because their
	// context ended, so that the sum of its arguments is the queue's length. It is
	// called with the Batcher's lock held and must not block.
	OnQueue func(delta int)
}

// DefaultOptions returns the options a zero Options stands for, spelled out.
func DefaultOptions() Options {
	return Options{MaxSize: 32, QueueSize: 1024, Instances: 1}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxSize <= 0 {
		o.MaxSize = d.MaxSize
	}
	if o.QueueSize <= 0 {
		o.QueueSize = d.QueueSize
	}
	if o.Instances <= 0 {
		o.Instances = d.Instances
	}
	o.MaxDelay = max(o.MaxDelay, 0)
	return o
}

// Result is one caller's share of a batch's run.
type Result struct {
	// Outputs holds the caller's rows of every output, in the model's order. The
	// data may share memory with other callers' results: read it, do not change it.
	Outputs []ort.Tensor

	// Queued is the time from Do to the start of the run.
	Queued time.Duration

	// Compute is how long the run took.
	Compute time.Duration

	// Rows is how many rows the run took, all callers together.
	Rows int
}

// Batcher batches the requests to one model. Its methods are safe for concurrent
// use.
type Batcher struct {
	run  RunFunc
	opts Options
	wake chan struct{} // tells a waiting worker that MaxSize rows are queued, or to drain

	mu       sync.Mutex
	queue    []*call // guarded by mu; oldest first
	rows     int     // guarded by mu; rows of the queued calls
	workers  int     // guarded by mu; workers running
	draining bool    // guarded by mu; set by Drain: batches run without waiting
}

// call is one request waiting for, or in, a batch.
type call struct {
	ctx    context.Context
	inputs []ort.Tensor
	rows   int
	queued time.Time

	done chan struct{} // closed once res and err are set
	res  Result
	err  error
}

// New returns a Batcher that runs batches with run.
func New(run RunFunc, opts Options) *Batcher {
	return &Batcher{run: run, opts: opts.withDefaults(), wake: make(chan struct{}, 1)}
}

// Options returns the options in force, defaults filled in.
func (b *Batcher) Options() Options { return b.opts }

// Do queues inputs for the next batch and returns the caller's rows of the outputs.
// Every input must have the same first dimension, at least 1. Do returns at once
// with ErrQueueFull when the queue is full, and with ctx's error when ctx ends first.
func (b *Batcher) Do(ctx context.Context, inputs []ort.Tensor) (Result, error) {
	rows, err := batchRows(inputs)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	c := &call{ctx: ctx, inputs: inputs, rows: rows, queued: time.Now(),
		done: make(chan struct{})}

	b.mu.Lock()
	if len(b.queue) >= b.opts.QueueSize {
		b.mu.Unlock()
		return Result{}, &QueueFullError{Places: b.opts.QueueSize,
			RetryAfter: b.retryAfter()}
	}
	b.queue = append(b.queue, c)
	b.rows += rows
	b.queuedLocked(1)
	switch {
	case b.workers < b.opts.Instances:
		b.workers++
		go b.work()
	case b.rows >= b.opts.MaxSize || b.draining:
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()

	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		// A call still queued leaves the queue, so that it holds no place there; a
		// call in a run has its rows thrown away.
		b.dequeue(c)
		return Result{}, ctx.Err()
	}
}

// QueueFullError is ErrQueueFull with what a caller needs to pace a retry.
type QueueFullError struct {
	Places     int           // the queue's size, all taken
	RetryAfter time.Duration // when a place is likely free: a batch's delay, 1 ms at least
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("%v: all %d places taken; retry in %v", ErrQueueFull, e.Places,
		e.RetryAfter)
}

// Is makes errors.Is(err, ErrQueueFull) hold.
func (e *QueueFullError) Is(target error) bool { return target == ErrQueueFull }

// retryAfter is how long a refused caller should wait: a batch forms within
// MaxDelay of its first request, and then places free up.
func (b *Batcher) retryAfter() time.Duration {
	return max(b.opts.MaxDelay, time.Millisecond)
}

// Drain makes the Batcher stop waiting for batches to fill: what is queued runs now,
// and every later request runs as soon as a worker is free, as with a MaxDelay of
// zero. A server calls it when it shuts down, so that no request waits out its delay
// (or is abandoned) while the server drains. Drain cannot be undone.
func (b *Batcher) Drain() {
	b.mu.Lock()
	b.draining = true
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// dequeue removes c from the queue if it is still there.
func (b *Batcher) dequeue(c *call) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, q := range b.queue {
		if q == c {
			b.queue = slices.Delete(b.queue, i, i+1)
			b.rows -= c.rows
			b.queuedLocked(-1)
			return
		}
	}
}

// batchRows returns the first dimension that every input shares.
func batchRows(inputs []ort.Tensor) (int, error) {
	if len(inputs) == 0 {
		return 0, errors.New("batch: no inputs")
	}
	var rows int64
	for i, t := range inputs {
		if len(t.Shape) == 0 || t.Shape[0] < 1 {
			return 0, fmt.Errorf("batch: input %d has shape %v, no batch dimension", i,
				t.Shape)
		}
		if i > 0 && t.Shape[0] != rows {
			return 0, fmt.Errorf("batch: input %d has %d rows, input 0 has %d", i,
				t.Shape[0], rows)
		}
		rows = t.Shape[0]
	}
	return int(rows), nil
}

// work runs batches until the queue is empty.
func (b *Batcher) work() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.workers--
			b.mu.Unlock()
			return
		}

		// Wait for more rows until the oldest call has waited MaxDelay.
		wait := time.Until(b.queue[0].queued.Add(b.opts.MaxDelay))
		if b.rows < b.opts.MaxSize && wait > 0 && !b.draining {
			b.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-b.wake:
				timer.Stop()
			}
			continue
		}

		calls := b.takeLocked()
		b.mu.Unlock()
		if len(calls) > 0 {
			b.runBatch(calls)
		}
	}
}

// takeLocked removes the next batch from the queue: calls from the head that fit in
// MaxSize rows (at least one) and match the first one's inputs. Calls whose context
// has ended are finished with its error instead.
func (b *Batcher) takeLocked() []*call {
	var calls []*call
	rows, n := 0, 0
	for _, c := range b.queue {
		if err := c.ctx.Err(); err != nil {
			b.rows -= c.rows
			n++
			c.finish(Result{}, err)
			continue
		}
		if len(calls) > 0 && (rows+c.rows > b.opts.MaxSize ||
			!compatible(calls[0].inputs, c.inputs)) {
			break
		}
		calls = append(calls, c)
		rows += c.rows
		b.rows -= c.rows
		n++
	}
	clear(b.queue[:n])
	b.queue = b.queue[n:]
	b.queuedLocked(-n)
	return calls
}

// queuedLocked tells Options.OnQueue that delta requests joined the queue.
func (b *Batcher) queuedLocked(delta int) {
	if b.opts.OnQueue != nil && delta != 0 {
		b.opts.OnQueue(delta)
	}
}

func (c *call) finish(res Result, err error) {
	c.res, c.err = res, err
	close(c.done)
}

// runBatch runs the calls as one batch and gives each its rows.
func (b *Batcher) runBatch(calls []*call) {
	ctx, inputs := calls[0].ctx, calls[0].inputs
	rows := calls[0].rows
	if len(calls) > 1 {
		// The run serves several callers, so no single one may cancel it.
		ctx = context.Background()
		var err error
		if inputs, rows, err = concatCalls(calls); err != nil {
			finishAll(calls, err)
			return
		}
	}

	start := time.Now()
	outs, err := b.run(ctx, inputs)
	compute := time.Since(start)
	if b.opts.OnRun != nil {
		b.opts.OnRun(rows)
	}
	if err != nil {
		finishAll(calls, err)
		return
	}
	if len(calls) == 1 {
		calls[0].finish(Result{Outputs: outs, Queued: start.Sub(calls[0].queued),
			Compute: compute, Rows: rows}, nil)
		return
	}

	parts, err := splitOutputs(outs, calls, rows)
	if err != nil {
		finishAll(calls, err)
		return
	}
	for i, c := range calls {
		c.finish(Result{Outputs: parts[i], Queued: start.Sub(c.queued), Compute: compute,
			Rows: rows}, nil)
	}
}

func finishAll(calls []*call, err error) {
	for _, c := range calls {
		c.finish(Result{}, err)
	}
}
