package oip

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hydrocast/hydrocast/inference/batch"
	"github.com/hydrocast/hydrocast/inference/telemetry"
	"github.com/hydrocast/hydrocast/models/ort"
)

// batcherIdle is how long a version's batcher stays on hand after its last request;
// batchers of versions a hot swap replaced are dropped once it has passed.
const batcherIdle = time.Minute

// versionKey names one version of one model.
type versionKey struct{ name, version string }

// batchers holds the dynamic batcher of each model version that batches, created on
// its first request. Dropping one is always safe: a batcher holds no goroutine while
// idle, and a request that still holds a dropped one is served by it all the same.
type batchers struct {
	mu       sync.Mutex
	m        map[versionKey]*batcherEntry // guarded by mu
	draining bool                         // guarded by mu; set by DrainBatches
}

type batcherEntry struct {
	b        *batch.Batcher // nil when the version does not batch
	lastUsed atomic.Int64   // unix nanoseconds
}

// batchOptions returns the batching options of a model and whether it batches.
func (s *Server) batchOptions(name string) (batch.Options, bool) {
	o, ok := s.opts.Batching[name]
	if !ok {
		o, ok = s.opts.Batching[""]
	}
	return o, ok && o.MaxSize >= 2
}

// batcher returns the batcher of m's version, or nil when it runs unbatched.
func (s *Server) batcher(m Model, now time.Time) *batch.Batcher {
	if len(s.opts.Batching) == 0 {
		return nil
	}
	key := versionKey{m.Name(), m.Version()}
	s.batchers.mu.Lock()
	defer s.batchers.mu.Unlock()
	e := s.batchers.m[key]
	if e == nil {
		e = s.newBatcherLocked(m, now)
		s.batchers.m[key] = e
	}
	e.lastUsed.Store(now.UnixNano())
	return e.b
}

// newBatcherLocked makes the batcher entry of m's version and drops those of versions
// unused for batcherIdle.
func (s *Server) newBatcherLocked(m Model, now time.Time) *batcherEntry {
	if s.batchers.m == nil {
		s.batchers.m = make(map[versionKey]*batcherEntry)
	}
	for k, e := range s.batchers.m {
		if now.Sub(time.Unix(0, e.lastUsed.Load())) > batcherIdle {
			delete(s.batchers.m, k)
		}
	}

	e := &batcherEntry{}
	opts, ok := s.batchOptions(m.Name())
	if !ok || !batchable(m) {
		return e
	}
	name, version := m.Name(), m.Version()
	series := s.opts.Metrics.Series(name, version)
	opts.OnRun = series.ObserveBatch
	// While a request waits in the queue it stays pending, counted by the batcher.
	opts.OnQueue = series.Pending().Add
	e.b = batch.New(m.Run, opts)
	if s.batchers.draining {
		e.b.Drain()
	}
	return e
}

// DrainBatches stops every batcher, and those made later, from waiting for batches
// to fill (see batch.Batcher.Drain): call it when shutdown begins, so that requests
// already queued run at once instead of waiting out their delay while the server
// drains.
func (s *Server) DrainBatches() {
	s.batchers.mu.Lock()
	defer s.batchers.mu.Unlock()
	s.batchers.draining = true
	for _, e := range s.batchers.m {
		if e.b != nil {
			e.b.Drain()
		}
	}
}

// batchable reports whether every input and output of m has an open first dimension,
// which the batcher joins and splits requests along.
func batchable(m Model) bool {
	for _, infos := range [][]ort.TensorInfo{m.Inputs(), m.Outputs()} {
		for _, t := range infos {
			if len(t.Shape) == 0 || t.Shape[0] >= 0 {
				return false
			}
		}
	}
	return true
}

// run runs m on tensors, through its batcher when it has one, and notes in rec when
// the run started and ended.
func (s *Server) run(ctx context.Context, m Model, tensors []ort.Tensor,
	rec *record) ([]ort.Tensor, error) {
	now := time.Now()
	rec.ran = true
	// The request stops being pending here; a batcher counts it again while it
	// waits in its queue.
	rec.leave()
	if b := s.batcher(m, now); b != nil {
		res, err := b.Do(ctx, tensors)
		if err != nil {
			rec.ran = false // or not for this caller: it gets no timings
			return nil, err
		}
		rec.phases = telemetry.Phases{Queued: now, Started: now.Add(res.Queued),
			Finished: now.Add(res.Queued + res.Compute), Rows: res.Rows}
		return res.Outputs, nil
	}

	out, err := m.Run(ctx, tensors)
	rows := 1
	if len(tensors) > 0 && len(tensors[0].Shape) > 0 {
		rows = int(tensors[0].Shape[0])
	}
	rec.phases = telemetry.Phases{Queued: now, Started: now, Finished: time.Now(),
		Rows: rows}
	rec.series.ObserveBatch(rows)
	return out, err
}
