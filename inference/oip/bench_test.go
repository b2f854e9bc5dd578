package oip_test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/inference/batch"
	"github.com/hydrocast/hydrocast/inference/oip"
	"github.com/hydrocast/hydrocast/inference/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// BenchmarkModelInfer measures ModelInfer in process, without a network, on one row
// for the linear model: the protocol's overhead around a tiny model, and what the
// inference metrics that serve always keeps add to it.
func BenchmarkModelInfer(b *testing.B) {
	srv, _ := newTestServer(b)
	metrics, err := telemetry.NewInferenceMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	observed := oip.New(newTestRepo(b), oip.Options{Metrics: metrics})
	cases := []struct {
		name string
		srv  *oip.Server
		req  *inferencepb.ModelInferRequest
	}{
		{"typed", srv, linearRequest([]float32{3, 6, 4})},
		{"raw", srv, toRaw(linearRequest([]float32{3, 6, 4}))},
		{"raw+metrics", observed, toRaw(linearRequest([]float32{3, 6, 4}))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.srv.ModelInfer(ctx, c.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// serveLoopback serves srv's gRPC service and the health service on a loopback port
// for the benchmark's duration and returns a connection to them.
func serveLoopback(b *testing.B, srv *oip.Server) *grpc.ClientConn {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer()
	srv.Register(gs)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(lis)
	b.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// BenchmarkGRPCModelInfer sends one-row raw ModelInfer requests for the linear
// model over loopback from 64 goroutines, and health Checks the same way as the
// reference, as the load tests of `make bench` do with ghz: the gap between the two
// is what the protocol, the checks and the model add to an empty call.
func BenchmarkGRPCModelInfer(b *testing.B) {
	srv, _ := newTestServer(b)
	conn := serveLoopback(b, srv)
	infer := inferencepb.NewGRPCInferenceServiceClient(conn)
	check := healthpb.NewHealthClient(conn)
	req := toRaw(linearRequest([]float32{3, 6, 4}))
	calls := map[string]func(context.Context) error{
		"check": func(ctx context.Context) error {
			_, err := check.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		},
		"modelinfer": func(ctx context.Context) error {
			_, err := infer.ModelInfer(ctx, req)
			return err
		},
	}
	for _, name := range []string{"check", "modelinfer"} {
		b.Run(name, func(b *testing.B) {
			runParallel(b, 64, calls[name])
		})
	}
}

// BenchmarkGRPCBatching sends one-row raw ModelInfer requests over loopback from 256
// goroutines to a server without and with dynamic batching; its req/s are the
// in-process counterpart of the load test "dynamic batching, concurrency 256".
func BenchmarkGRPCBatching(b *testing.B) {
	req := toRaw(linearRequest([]float32{3, 6, 4}))
	for _, tc := range []struct {
		name     string
		batching map[string]batch.Options
	}{
		{"off", nil},
		{"on", map[string]batch.Options{"": {MaxSize: 64, MaxDelay: 500 * time.Microsecond}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := oip.New(newTestRepo(b), oip.Options{Batching: tc.batching})
			client := inferencepb.NewGRPCInferenceServiceClient(serveLoopback(b, srv))
			runParallel(b, 256, func(ctx context.Context) error {
				_, err := client.ModelInfer(ctx, req)
				return err
			})
		})
	}
}

// runParallel runs call b.N times from workers goroutines and reports req/s.
func runParallel(b *testing.B, workers int, call func(context.Context) error) {
	ctx := context.Background()
	b.SetParallelism(max(1, workers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
