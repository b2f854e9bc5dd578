// Package telemetry measures the server: Prometheus metrics of inference requests per
// model and version and of every gRPC call, the /metrics handler, and OpenTelemetry
// tracing with spans for the time a request waits in a queue and the time the model
// computes. docs/observability.md lists every name and its counterpart in Triton.
//
// Every type here is safe for concurrent use, and a nil *InferenceMetrics or
// *GRPCMetrics records nothing, so that callers need no checks when telemetry is off.
package telemetry

import (
	"net/http"
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
	if m == nil {
		return
	}
	m.requests.WithLabelValues(r.Model, r.Version, r.Code.String()).Inc()
	m.latency.WithLabelValues(r.Model, r.Version).Observe(r.Total.Seconds())
	if r.Ran {
		m.queue.WithLabelValues(r.Model, r.Version).Observe(r.Queue.Seconds())
		m.compute.WithLabelValues(r.Model, r.Version).Observe(r.Compute.Seconds())
	}
}

// ObserveBatch records one model run of rows rows.
func (m *InferenceMetrics) ObserveBatch(model, version string, rows int) {
	if m == nil {
		return
	}
	m.batch.WithLabelValues(model, version).Observe(float64(rows))
}

// Pending returns the gauge of the requests to one model version that wait for their
// model run. Callers add one when a request for the version arrives and take it away
// when its run starts or it ends without one, whichever comes first.
func (m *InferenceMetrics) Pending(model, version string) Pending {
	if m == nil {
		return Pending{}
	}
	return Pending{m.pending.WithLabelValues(model, version)}
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
