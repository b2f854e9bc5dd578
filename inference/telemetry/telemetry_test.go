package telemetry_test

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/inference/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// serveHealth serves a health service instrumented with opts on a loopback port and
// returns a client of it.
func serveHealth(t *testing.T, opts []grpc.ServerOption) healthpb.HealthClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(opts...)
	hs := health.NewServer()
	hs.SetServingStatus("up", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.Stop()
	})
	return healthpb.NewHealthClient(conn)
}

func TestGRPCMetricsCountCallsByCode(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := telemetry.NewGRPCMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	client := serveHealth(t, telemetry.ServerOptions(m, nil))
	ctx := context.Background()

	for range 4 {
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "up"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
		if status.Code(err) != codes.NotFound {
			t.Fatalf("unknown service: %v, want NotFound", err)
		}
	}
	srv := httptest.NewServer(telemetry.Handler(reg))
	defer srv.Close()
	want := `
# HELP grpc_server_handled_total RPCs completed on the server, by status code.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code="NotFound",grpc_method="Check",` +
		`grpc_service="grpc.health.v1.Health",grpc_type="unary"} 2
grpc_server_handled_total{grpc_code="OK",grpc_method="Check",` +
		`grpc_service="grpc.health.v1.Health",grpc_type="unary"} 4
# HELP grpc_server_started_total RPCs started on the server.
# TYPE grpc_server_started_total counter
grpc_server_started_total{grpc_method="Check",grpc_service="grpc.health.v1.Health",` +
		`grpc_type="unary"} 6
`
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want),
		"grpc_server_started_total", "grpc_server_handled_total"); err != nil {
		t.Fatal(err)
	}

	// A stream: Watch sends the current status, then the client goes away.
	wctx, cancel := context.WithCancel(ctx)
	w, err := client.Watch(wctx, &healthpb.HealthCheckRequest{Service: "up"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	// The server notices the cancellation on its own time.
	for counterValue(t, reg, "grpc_server_handled_total", "Watch") == 0 {
		time.Sleep(time.Millisecond)
	}
	if n := counterValue(t, reg, "grpc_server_msg_sent_total", "Watch"); n != 1 {
		t.Errorf("stream messages sent: %v, want 1", n)
	}
}

// counterValue returns the sum of a counter's series for a gRPC method.
func counterValue(t *testing.T, reg *prometheus.Registry, name, method string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "grpc_method" && l.GetValue() == method {
					v += m.GetCounter().GetValue()
				}
			}
		}
	}
	return v
}

func TestRecordPhasesAddsQueueAndComputeSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := telemetry.Tracer(tp)

	ctx, parent := tr.Start(context.Background(), "ModelInfer")
	t0 := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	p := telemetry.Phases{Queued: t0, Started: t0.Add(300 * time.Microsecond),
		Finished: t0.Add(500 * time.Microsecond), Rows: 12}
	telemetry.RecordPhases(ctx, tr, "sweat_rate", "4", p)
	parent.End()

	spans := rec.Ended()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = s
	}
	for name, want := range map[string][2]time.Time{
		"queue":   {p.Queued, p.Started},
		"compute": {p.Started, p.Finished},
	} {
		s, ok := byName[name]
		if !ok {
			t.Fatalf("no %q span among %d", name, len(spans))
		}
		if !s.StartTime().Equal(want[0]) || !s.EndTime().Equal(want[1]) {
			t.Errorf("%s span from %v to %v, want %v to %v", name, s.StartTime(),
				s.EndTime(), want[0], want[1])
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s span is not a child of the request's span", name)
		}
	}
	found := false
	for _, a := range byName["compute"].Attributes() {
		if string(a.Key) == "batch.rows" && a.Value.AsInt64() == 12 {
			found = true
		}
	}
	if !found {
		t.Errorf("compute span attributes %v lack batch.rows=12",
			byName["compute"].Attributes())
	}
}

func TestTracerProviderExporters(t *testing.T) {
	ctx := context.Background()
	tp, shutdown, err := telemetry.NewTracerProvider(ctx, telemetry.TracingOptions{})
	if err != nil || tp != nil || shutdown(ctx) != nil {
		t.Fatalf("no exporter: provider %v, err %v; want nil, nil", tp, err)
	}

	var out bytes.Buffer
	tp, shutdown, err = telemetry.NewTracerProvider(ctx, telemetry.TracingOptions{
		Exporter: telemetry.ExporterStdout, Writer: &out, ServiceName: "test-svc"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := telemetry.Tracer(tp).Start(ctx, "hello-span")
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hello-span", "test-svc"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout exporter wrote %q, without %q", out.String(), want)
		}
	}

	_, _, err = telemetry.NewTracerProvider(ctx, telemetry.TracingOptions{Exporter: "jaeger"})
	if err == nil || !strings.Contains(err.Error(), `"jaeger"`) {
		t.Fatalf("unknown exporter: %v, want an error naming it", err)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var im *telemetry.InferenceMetrics
	im.Observe(telemetry.Request{Model: "m", Code: codes.OK})
	im.ObserveBatch("m", "1", 3)
	var gm *telemetry.GRPCMetrics
	if opts := telemetry.ServerOptions(gm, nil); len(opts) != 0 {
		t.Fatalf("%d server options with metrics and tracing off, want 0", len(opts))
	}
}

func TestPendingGaugeAddsPerVersion(t *testing.T) {
	// Nil metrics count nothing and do not fail.
	var off *telemetry.InferenceMetrics
	off.Pending("m", "1").Add(1)

	reg := prometheus.NewRegistry()
	m, err := telemetry.NewInferenceMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Pending("sweat-rate", "4").Add(3)
	m.Pending("sweat-rate", "4").Add(-1)
	m.Pending("sweat-rate", "5").Add(1)
	m.Pending("sweat-rate", "5").Add(-1)
	want := `
# HELP hydrocast_inference_pending_requests Inference requests received and not yet ` +
		`running: from the decoded request to the start of its model run, the ` +
		`batcher's queue included.
# TYPE hydrocast_inference_pending_requests gauge
hydrocast_inference_pending_requests{model="sweat-rate",version="4"} 2
hydrocast_inference_pending_requests{model="sweat-rate",version="5"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"hydrocast_inference_pending_requests"); err != nil {
		t.Fatal(err)
	}
}

// A version's Series records what InferenceMetrics' own methods record, into the same
// series, and makes a series only once something is recorded in it: a version whose
// requests all failed has no OK count and no timings of runs it never had.
func TestSeriesRecordsAsTheMetricsDo(t *testing.T) {
	var off *telemetry.Series
	off.Observe(telemetry.Request{Code: codes.OK})
	off.ObserveBatch(1)
	off.Pending().Add(1)

	reg := prometheus.NewRegistry()
	m, err := telemetry.NewInferenceMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Series("sweat-rate", "4")
	if m.Series("sweat-rate", "4") != s {
		t.Error("a second Series of one version is another one")
	}
	s.Observe(telemetry.Request{Code: codes.OK, Total: time.Millisecond, Ran: true,
		Compute: time.Millisecond})
	s.ObserveBatch(2)
	m.Observe(telemetry.Request{Model: "sweat-rate", Version: "4", Code: codes.OK,
		Total: time.Millisecond, Ran: true, Compute: time.Millisecond})
	m.ObserveBatch("sweat-rate", "4", 1)
	s.Observe(telemetry.Request{Code: codes.InvalidArgument, Total: time.Millisecond})
	m.Series("sweat-rate", "5").Observe(telemetry.Request{Code: codes.InvalidArgument,
		Total: time.Millisecond})

	for name, want := range map[string]int{
		"hydrocast_inference_requests_total":           3,
		"hydrocast_inference_request_duration_seconds": 2,
		"hydrocast_inference_compute_duration_seconds": 1,
		"hydrocast_inference_queue_duration_seconds":   1,
		"hydrocast_inference_batch_size":               1,
		"hydrocast_inference_pending_requests":         0,
	} {
		if got := testutil.CollectAndCount(reg, name); got != want {
			t.Errorf("%s: %d series, want %d", name, got, want)
		}
	}
	want := `
# HELP hydrocast_inference_requests_total Inference requests answered, by model, ` +
		`version and gRPC status code (REST requests by the code their HTTP status ` +
		`stands for).
# TYPE hydrocast_inference_requests_total counter
hydrocast_inference_requests_total{code="InvalidArgument",model="sweat-rate",version="4"} 1
hydrocast_inference_requests_total{code="InvalidArgument",model="sweat-rate",version="5"} 1
hydrocast_inference_requests_total{code="OK",model="sweat-rate",version="4"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"hydrocast_inference_requests_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(batchCount(t, reg)); got != 2 {
		t.Errorf("batch_size count %v, want 2 runs", got)
	}
}

// batchCount returns the number of runs the batch size histogram of sweat-rate v4
// holds, as a gauge for testutil.
func batchCount(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "hydrocast_inference_batch_size" {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "runs"})
			g.Set(float64(mf.GetMetric()[0].GetHistogram().GetSampleCount()))
			return g
		}
	}
	t.Fatal("no batch_size histogram")
	return nil
}
