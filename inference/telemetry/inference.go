// Package telemetry measures the server: Prometheus metrics of inference requests per
// model and version and of every gRPC call, the /metrics handler, and OpenTelemetry
// tracing with spans for the time a request waits in a queue and the time the model
// computes. docs/observability.md lists every name and its counterpart in Triton.
//
// Every type here is safe for concurrent use, and a nil *InferenceMetrics or
// *GRPCMetrics records nothing, so that callers need no checks when telemetry is off.
package telemetry

import (
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"
)

// Namespace prefixes the names of the inference metrics.
const Namespace = "hydrocast"

// latencyBuckets spans 25 µs to about 3 s, doubling: loopback calls on this hardware
// take tens of microseconds to a few milliseconds, and a stuck request seconds.
var latencyBuckets = prometheus.ExponentialBuckets(25e-6, 2, 18)

// InferenceMetrics counts and times inference requests per model and version.
type InferenceMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	queue    *prometheus.HistogramVec
	compute  *prometheus.HistogramVec
	batch    *prometheus.HistogramVec
	pending  *prometheus.GaugeVec

	// series caches each version's series, so that a request looks its labels up
	// once rather than once per metric. Keys are the versions that served (or ""
	// twice), never what callers name, so the cache grows only as the vecs do.
	series   atomic.Pointer[map[seriesKey]*Series] // read without a lock, copied to add
	seriesMu sync.Mutex                            // serialises additions
}

type seriesKey struct{ model, version string }

// Series is the metrics of one model version with their labels resolved, for a
// caller that records several things of one request. Each series is made on its
// first use, as WithLabelValues would, so that /metrics shows the same series as
// before. A nil *Series records nothing.
type Series struct {
	m              *InferenceMetrics
	model, version string
	ok             lazy[prometheus.Counter] // requests answered OK, the common code
	latency        lazy[prometheus.Observer]
	queue          lazy[prometheus.Observer]
	compute        lazy[prometheus.Observer]
	batch          lazy[prometheus.Observer]
	pending        lazy[prometheus.Gauge]
}

// lazy holds a value made on first use; racing makers make equal values (the vec
// returns the same series), so which one is kept does not matter.
type lazy[T any] struct{ p atomic.Pointer[T] }

func (l *lazy[T]) get(make func() T) T {
	if p := l.p.Load(); p != nil {
		return *p
	}
	v := make()
	l.p.Store(&v)
	return v
}

// Series returns the series of one model version, made on its first use.
func (m *InferenceMetrics) Series(model, version string) *Series {
	if m == nil {
		return nil
	}
	k := seriesKey{model, version}
	if p := m.series.Load(); p != nil {
		if s := (*p)[k]; s != nil {
			return s
		}
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	var next map[seriesKey]*Series
	if p := m.series.Load(); p != nil {
		if s := (*p)[k]; s != nil {
			return s
		}
		next = maps.Clone(*p)
	} else {
		next = make(map[seriesKey]*Series)
	}
	s := &Series{m: m, model: model, version: version}
	next[k] = s
	m.series.Store(&next)
	return s
}

// Observe records one answered request of the series' version; r's Model and
// Version are not read.
func (s *Series) Observe(r Request) {
	if s == nil {
		return
	}
	if r.Code == codes.OK {
		s.ok.get(s.counter(codes.OK)).Inc()
	} else {
		s.counter(r.Code)().Inc()
	}
	s.latency.get(s.observer(s.m.latency)).Observe(r.Total.Seconds())
	if r.Ran {
		s.queue.get(s.observer(s.m.queue)).Observe(r.Queue.Seconds())
		s.compute.get(s.observer(s.m.compute)).Observe(r.Compute.Seconds())
	}
}

func (s *Series) counter(code codes.Code) func() prometheus.Counter {
	return func() prometheus.Counter {
		return s.m.requests.WithLabelValues(s.model, s.version, code.String())
	}
}

func (s *Series) observer(v *prometheus.HistogramVec) func() prometheus.Observer {
	return func() prometheus.Observer { return v.WithLabelValues(s.model, s.version) }
}

// ObserveBatch records one model run of rows rows.
func (s *Series) ObserveBatch(rows int) {
	if s != nil {
		s.batch.get(s.observer(s.m.batch)).Observe(float64(rows))
	}
}

// Pending returns the gauge of the version's requests waiting for their model run,
// as InferenceMetrics.Pending does.
func (s *Series) Pending() Pending {
	if s == nil {
		return Pending{}
	}
	return Pending{s.pending.get(func() prometheus.Gauge {
		return s.m.pending.WithLabelValues(s.model, s.version)
	})}
}

// NewInferenceMetrics returns inference metrics registered on reg.
func NewInferenceMetrics(reg prometheus.Registerer) (*InferenceMetrics, error) {
	labels := []string{"model", "version"}
	m := &InferenceMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "inference", Name: "requests_total",
			Help: "Inference requests answered, by model, version and gRPC status code " +
				"(REST requests by the code their HTTP status stands for).",
		}, []string{"model", "version", "code"}),
		latency: newHistogram("request_duration_seconds", "Time from the decoded "+
			"request to the encoded answer, queue and compute included.", labels),
		queue: newHistogram("queue_duration_seconds", "Time a request waited for "+
			"its model run to start: in the dynamic batcher's queue when batching is on.",
			labels),
		compute: newHistogram("compute_duration_seconds", "Time of the model run "+
			"that served a request, the whole batch's when batched.", labels),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "inference", Name: "batch_size",
			Help: "Rows per model run; its _count is the number of runs and its " +
				"_sum the rows inferred.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}, labels),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "inference", Name: "pending_requests",
			Help: "Inference requests received and not yet running: from the decoded " +
				"request to the start of its model run, the batcher's queue included.",
		}, labels),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.queue, m.compute,
		m.batch, m.pending} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func newHistogram(name, help string, labels []string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "inference", Name: name, Help: help,
		Buckets: latencyBuckets,
	}, labels)
}

// Request describes one answered inference request.
type Request struct {
	// Model and Version name the version that served the request; both are empty
	// when the request named no model that exists, so that callers cannot create
	// series at will.
	Model, Version string

	// Code is the request's gRPC status code.
	Code codes.Code

	// Total is the time from the decoded request to the answer.
	Total time.Duration

	// Ran reports whether the model ran for the request, and so whether Queue and
	// Compute hold anything.
	Ran bool

	// Queue is the time the request waited for its run; Compute the run's.
	Queue, Compute time.Duration
}

// Observe records one answered request.
func (m *InferenceMetrics) Observe(r Request) {
	m.Series(r.Model, r.Version).Observe(r)
}

// ObserveBatch records one model run of rows rows.
func (m *InferenceMetrics) ObserveBatch(model, version string, rows int) {
	m.Series(model, version).ObserveBatch(rows)
}

// Pending returns the gauge of the requests to one model version that wait for their
// model run. Callers add one when a request for the version arrives and take it away
// when its run starts or it ends without one, whichever comes first.
func (m *InferenceMetrics) Pending(model, version string) Pending {
	return m.Series(model, version).Pending()
}

// Pending counts the requests of one model version that wait for their model run, as
// Triton's nv_inference_pending_request_count does. Its zero value counts nothing.
type Pending struct{ g prometheus.Gauge }

// Add adds n requests, which may be negative, to the count.
func (p Pending) Add(n int) {
	if p.g != nil {
		p.g.Add(float64(n))
	}
}

// Handler serves the metrics g gathers in Prometheus's text format, for /metrics.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
