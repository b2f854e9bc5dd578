package oip_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/inference/batch"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gatedModel holds every run until its gate opens, telling started when one begins.
type gatedModel struct {
	countingModel
	started chan struct{}
	gate    chan struct{}
}

func (m *gatedModel) Run(ctx context.Context, in []ort.Tensor) ([]ort.Tensor, error) {
	m.started <- struct{}{}
	<-m.gate
	return m.countingModel.Run(ctx, in)
}

// pendingRequests reads hydrocast_inference_pending_requests of the linear model.
func pendingRequests(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "hydrocast_inference_pending_requests" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["model"] == "linear" && labels["version"] == "3" {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// awaitPending waits until the linear model has want pending requests. Requests that
// wait in the batcher's queue give no sign of it but the gauge, hence the polling.
func awaitPending(t *testing.T, reg *prometheus.Registry, want float64) {
	t.Helper()
	for got := pendingRequests(t, reg); got != want; got = pendingRequests(t, reg) {
		if t.Context().Err() != nil {
			t.Fatalf("pending requests: %v, want %v", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPendingRequestsCountWaitingNotRunning(t *testing.T) {
	cases := []struct {
		name     string
		batching map[string]batch.Options
	}{
		{"unbatched", nil},
		// One batch runs at a time, so while the first request's run is held the
		// others wait in the queue.
		{"batched", map[string]batch.Options{"linear": {MaxSize: 8, Instances: 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, repo, reg := newObservedServer(t, tc.batching)
			gated := &gatedModel{countingModel: countingModel{Model: repo.models["linear"]},
				started: make(chan struct{}, 16), gate: make(chan struct{})}
			repo.models["linear"] = gated
			client := dial(t, srv)

			var wg sync.WaitGroup
			infer := func(ctx context.Context) codes.Code {
				_, err := client.ModelInfer(ctx, linearRequest([]float32{1, 2, 3}))
				return status.Code(err)
			}
			codesc := make(chan codes.Code, 8)
			wg.Go(func() { codesc <- infer(context.Background()) })
			<-gated.started
			// A request whose run has started is no longer pending.
			if got := pendingRequests(t, reg); got != 0 {
				t.Fatalf("pending requests while the only one runs: %v, want 0", got)
			}
			if tc.batching == nil {
				close(gated.gate)
				wg.Wait()
				if c := <-codesc; c != codes.OK {
					t.Fatalf("request ended with %v", c)
				}
				return
			}

			// Three more wait behind the held run; one of them gives up.
			ctx, cancel := context.WithCancel(context.Background())
			wg.Go(func() { codesc <- infer(ctx) })
			awaitPending(t, reg, 1)
			for range 2 {
				wg.Go(func() { codesc <- infer(context.Background()) })
			}
			awaitPending(t, reg, 3)
			cancel()
			awaitPending(t, reg, 2)

			close(gated.gate)
			wg.Wait()
			close(codesc)
			var ok, canceled int
			for c := range codesc {
				switch c {
				case codes.OK:
					ok++
				case codes.Canceled:
					canceled++
				}
			}
			if ok != 3 || canceled != 1 {
				t.Errorf("%d requests answered, %d canceled; want 3 and 1", ok, canceled)
			}
			if got := pendingRequests(t, reg); got != 0 {
				t.Errorf("pending requests after all ended: %v, want 0", got)
			}
		})
	}
}

func TestPendingRequestsReturnToZeroAfterRefusals(t *testing.T) {
	srv, _, reg := newObservedServer(t, nil)
	client := dial(t, srv)

	// A wrong shape is refused after the model is found, before it runs.
	bad := linearRequest([]float32{1, 2, 3, 4})
	bad.Inputs[0].Shape = []int64{1, 4}
	if _, err := client.ModelInfer(context.Background(), bad); status.Code(err) !=
		codes.InvalidArgument {
		t.Fatalf("wrong shape: %v, want InvalidArgument", err)
	}
	if got := pendingRequests(t, reg); got != 0 {
		t.Errorf("pending requests after a refusal: %v, want 0", got)
	}
}
