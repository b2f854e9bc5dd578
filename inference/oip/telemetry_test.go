package oip_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/inference/batch"
	"github.com/hydrocast/hydrocast/inference/oip"
	"github.com/hydrocast/hydrocast/inference/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// newObservedServer returns a test server whose inference metrics go to a fresh
// registry, with the given batching.
func newObservedServer(t *testing.T, batching map[string]batch.Options) (*oip.Server,
	*testRepo, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	metrics, err := telemetry.NewInferenceMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	repo := newTestRepo(t)
	srv := oip.New(repo, oip.Options{MaxBatch: testMaxBatch, MaxRequestBytes: testMaxBytes,
		Batching: batching, Metrics: metrics})
	return srv, repo, reg
}

func TestMetricsCountRequestsByCodeModelVersion(t *testing.T) {
	srv, _, reg := newObservedServer(t, nil)
	client := dial(t, srv)
	ctx := context.Background()

	for i := range 5 {
		req := linearRequest([]float32{1, 2, float32(i)})
		if _, err := client.ModelInfer(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	bad := &inferencepb.ModelInferRequest{ModelName: "linear",
		Inputs: []*inTensor{input("features", []int64{1, 4}, []float32{1, 2, 3, 4})}}
	for range 3 {
		if _, err := client.ModelInfer(ctx, bad); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("wrong shape: %v, want InvalidArgument", err)
		}
	}
	unknown := &inferencepb.ModelInferRequest{ModelName: "nope",
		Inputs: []*inTensor{input("features", []int64{1, 3}, []float32{1, 2, 3})}}
	for range 2 {
		if _, err := client.ModelInfer(ctx, unknown); status.Code(err) != codes.NotFound {
			t.Fatalf("unknown model: %v, want NotFound", err)
		}
	}
	// The REST twin counts alike.
	body := `{"inputs":[{"name":"features","shape":[2,3],"datatype":"FP32",` +
		`"data":[1,2,3,4,5,6]}]}`
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost,
		"/v2/models/linear/infer", strings.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("REST infer: %d %s", rec.Code, rec.Body)
	}
	// A body that is not JSON counts against the model it was sent to.
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost,
		"/v2/models/linear/infer", strings.NewReader(`{"inputs":`)))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("REST infer of a broken body: %d %s", rec.Code, rec.Body)
	}

	metrics := httptest.NewServer(telemetry.Handler(reg))
	defer metrics.Close()
	want := `
# HELP hydrocast_inference_requests_total Inference requests answered, by model, ` +
		`version and gRPC status code (REST requests by the code their HTTP status ` +
		`stands for).
# TYPE hydrocast_inference_requests_total counter
hydrocast_inference_requests_total{code="InvalidArgument",model="linear",version="3"} 4
hydrocast_inference_requests_total{code="NotFound",model="",version=""} 2
hydrocast_inference_requests_total{code="OK",model="linear",version="3"} 6
`
	if err := testutil.ScrapeAndCompare(metrics.URL, strings.NewReader(want),
		"hydrocast_inference_requests_total"); err != nil {
		t.Fatal(err)
	}

	// Six runs (five of one row, one of two), each timed once.
	count, sum := histogram(t, reg, "hydrocast_inference_batch_size")
	if count != 6 || sum != 7 {
		t.Errorf("batch sizes: %d runs of %v rows in all, want 6 runs of 7", count, sum)
	}
	if count, _ := histogram(t, reg, "hydrocast_inference_compute_duration_seconds"); count != 6 {
		t.Errorf("compute durations: %d observed, want 6", count)
	}
	// Every request answered, refused ones too: 5 + 3 + 2 over gRPC, 2 over REST.
	if count, _ := histogram(t, reg, "hydrocast_inference_request_duration_seconds"); count != 12 {
		t.Errorf("request durations: %d observed, want 12", count)
	}
}

// histogram returns the count and sum of a histogram, all its series together.
func histogram(t *testing.T, reg *prometheus.Registry, name string) (uint64, float64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var count uint64
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			count += m.GetHistogram().GetSampleCount()
			sum += m.GetHistogram().GetSampleSum()
		}
	}
	return count, sum
}

func TestBatchedInferGivesEachCallerItsRows(t *testing.T) {
	// With a long delay, the one batch runs only when all 16 rows have come.
	srv, repo, reg := newObservedServer(t, map[string]batch.Options{
		"linear": {MaxSize: 16, MaxDelay: time.Minute}})
	counted := &countingModel{Model: repo.models["linear"]}
	repo.models["linear"] = counted
	client := dial(t, srv)

	rows := []int{1, 3, 2, 2, 4, 1, 3} // 16 in all
	var wg sync.WaitGroup
	errs := make(chan error, len(rows))
	for c, n := range rows {
		wg.Go(func() {
			x := make([]float32, 3*n)
			for j := range x {
				x[j] = float32(10*c + j%7)
			}
			resp, err := client.ModelInfer(context.Background(), toRaw(linearRequest(x)))
			if err != nil {
				errs <- err
				return
			}
			want := linearRef(x)
			for i := range want {
				got := outputData(t, resp, i).([]float32)
				if !slices.Equal(got, want[i]) || resp.Outputs[i].Shape[0] != int64(n) {
					errs <- status.Errorf(codes.Unknown, "caller %d output %d: %v %v, "+
						"want %v", c, i, resp.Outputs[i].Shape, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	if n := counted.runs.Load(); n != 1 {
		t.Errorf("%d model runs, want 1 for the whole batch", n)
	}
	if count, sum := histogram(t, reg, "hydrocast_inference_batch_size"); count != 1 ||
		sum != 16 {
		t.Errorf("batch sizes: %d runs of %v rows, want 1 of 16", count, sum)
	}
}

func TestBatchedRequestPastDeadlineNeverRuns(t *testing.T) {
	srv, repo, _ := newObservedServer(t, map[string]batch.Options{
		"linear": {MaxSize: 16, MaxDelay: 300 * time.Millisecond}})
	counted := &countingModel{Model: repo.models["linear"]}
	repo.models["linear"] = counted
	client := dial(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := client.ModelInfer(ctx, linearRequest([]float32{7, 7, 7}))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("request with a 20 ms deadline: %v, want DeadlineExceeded", err)
	}

	// A later request runs in the batch the expired one would have joined.
	x := []float32{1, 2, 3}
	resp, err := client.ModelInfer(context.Background(), linearRequest(x))
	if err != nil {
		t.Fatal(err)
	}
	if got := outputData(t, resp, 0).([]float32); !slices.Equal(got, linearRef(x)[0]) {
		t.Fatalf("output %v, want %v", got, linearRef(x)[0])
	}
	if n := counted.runs.Load(); n != 1 {
		t.Fatalf("%d model runs, want 1: the expired request reached the model", n)
	}
}

func TestFullBatchQueueAnswersResourceExhausted(t *testing.T) {
	srv, repo, reg := newObservedServer(t, map[string]batch.Options{
		"linear": {MaxSize: 64, MaxDelay: time.Minute, QueueSize: 2}})
	counted := &countingModel{Model: repo.models["linear"]}
	repo.models["linear"] = counted
	client := dial(t, srv)

	// Nothing runs for a minute, so the queue holds two and refuses the third.
	ctx, cancel := context.WithCancel(context.Background())
	codesc := make(chan codes.Code, 3)
	refused := make(chan *status.Status, 3)
	for range 3 {
		go func() {
			_, err := client.ModelInfer(ctx, linearRequest([]float32{1, 2, 3}))
			codesc <- status.Code(err)
			refused <- status.Convert(err)
		}()
	}
	if c := <-codesc; c != codes.ResourceExhausted {
		t.Fatalf("first answer %v, want ResourceExhausted", c)
	}
	// The refusal says when to retry: after a batch's delay, a minute here.
	var retry *errdetails.RetryInfo
	for _, d := range (<-refused).Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() != time.Minute {
		t.Errorf("RetryInfo %v, want a delay of 1m", retry)
	}
	cancel()
	for range 2 {
		if c := <-codesc; c != codes.Canceled {
			t.Errorf("queued request ended with %v, want Canceled", c)
		}
	}
	if n := counted.runs.Load(); n != 0 {
		t.Errorf("%d model runs, want none", n)
	}

	var out bytes.Buffer
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() == "hydrocast_inference_requests_total" {
			for _, m := range f.GetMetric() {
				out.WriteString(m.String() + "\n")
			}
		}
	}
	if !strings.Contains(out.String(), "ResourceExhausted") {
		t.Errorf("no ResourceExhausted request counted: %s", out.String())
	}
}

func TestTracedInferHasQueueAndComputeSpans(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	srv := oip.New(newTestRepo(t), oip.Options{Tracer: telemetry.Tracer(tp),
		Batching: map[string]batch.Options{"linear": {MaxSize: 4}}})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(telemetry.ServerOptions(nil, tp)...)
	srv.Register(gs)
	go gs.Serve(lis)
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	client := inferencepb.NewGRPCInferenceServiceClient(conn)
	if _, err := client.ModelInfer(context.Background(),
		linearRequest([]float32{1, 2, 3})); err != nil {
		t.Fatal(err)
	}
	gs.GracefulStop() // the server span ends once the call is done

	var rpc sdktrace.ReadOnlySpan
	children := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Ended() {
		switch s.Name() {
		case "inference.GRPCInferenceService/ModelInfer":
			rpc = s
		case "queue", "compute":
			children[s.Name()] = s
		}
	}
	if rpc == nil {
		t.Fatal("no span of the ModelInfer call")
	}
	for _, name := range []string{"queue", "compute"} {
		s, ok := children[name]
		if !ok {
			t.Fatalf("no %s span", name)
		}
		if s.Parent().SpanID() != rpc.SpanContext().SpanID() {
			t.Errorf("the %s span is not a child of the call's span", name)
		}
	}
}
