package oip

import (
	"context"
	"time"

	"github.com/hydrocast/hydrocast/inference/telemetry"
	"google.golang.org/grpc/codes"
)

// record is what telemetry learns of one inference request as it is served.
type record struct {
	start          time.Time
	model, version string // of the version found; empty until then
	ran            bool   // whether phases holds the model run's times
	phases         telemetry.Phases
	series         *telemetry.Series // of the version found; nil until then

	// pending counts the request among its version's pending requests until waiting
	// turns false: its run starts, or it ends without one.
	pending telemetry.Pending
	waiting bool
}

// begin starts the record of an inference request.
func begin() record {
	return record{start: time.Now()}
}

// arrive counts the request among the pending requests of the version it found.
func (s *Server) arrive(rec *record) {
	rec.series = s.opts.Metrics.Series(rec.model, rec.version)
	rec.pending = rec.series.Pending()
	rec.pending.Add(1)
	rec.waiting = true
}

// leave takes the request out of the pending requests, once: its run is about to
// start, in the batcher's queue or alone, or it has ended without one.
func (rec *record) leave() {
	if rec.waiting {
		rec.pending.Add(-1)
		rec.waiting = false
	}
}

// finish records a served inference request, err being what its caller is told.
func (s *Server) finish(ctx context.Context, rec *record, err error) {
	rec.leave()
	if s.opts.Metrics == nil && s.opts.Tracer == nil {
		return
	}
	code := codes.OK
	if err != nil {
		code, _, _ = statusOf(err)
	}
	r := telemetry.Request{Model: rec.model, Version: rec.version, Code: code,
		Total: time.Since(rec.start), Ran: rec.ran}
	if rec.ran {
		r.Queue = rec.phases.Started.Sub(rec.phases.Queued)
		r.Compute = rec.phases.Finished.Sub(rec.phases.Started)
		if s.opts.Tracer != nil {
			telemetry.RecordPhases(ctx, s.opts.Tracer, rec.model, rec.version, rec.phases)
		}
	}
	if rec.series != nil {
		rec.series.Observe(r)
		return
	}
	s.opts.Metrics.Observe(r)
}
