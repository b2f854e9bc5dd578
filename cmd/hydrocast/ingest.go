package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hydrocast/hydrocast/features/pubsub"
)

type ingestFlags struct {
	subscription  string
	store         string
	redisAddr     string
	offline       bool
	healthListen  string
	metricsListen string
	addrFile      string
}

func newIngestCommand(g *globals) *cobra.Command {
	f := &ingestFlags{}
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Run an ingest worker: Pub/Sub readings into the shared feature store",
		Long: `Ingest pulls readings from a Pub/Sub subscription (hydrocast.v1.Reading
messages ordered by athlete: JSON, or binary with the attribute content-type
application/x-protobuf) into the online feature store that
serve replicas read, acknowledging each message only once the store has taken its
reading. Accepted readings are also appended to the offline store in <home>/offline.

It serves gRPC health (SERVING while subscribed) on --health-listen and, when
--metrics-listen is set, Prometheus metrics at /metrics. Neither carries athletes'
data. It stops on SIGINT or SIGTERM after the messages in hand are settled.

With PUBSUB_EMULATOR_HOST set it talks to that emulator; otherwise to Google Cloud
with Application Default Credentials.`,
		Example: `  hydrocast ingest --pubsub-subscription projects/p/subscriptions/readings \
    --feature-store redis --redis-addr 10.0.0.5:6379`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIngest(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.subscription, "pubsub-subscription", "", "subscription to pull, "+
		"projects/P/subscriptions/S (required)")
	fl.StringVar(&f.store, "feature-store", "redis", "online feature store: redis "+
		"(shared with serve replicas), wal (<home>/wal, one process only) or memory")
	fl.StringVar(&f.redisAddr, "redis-addr", "127.0.0.1:6379", "Redis address for "+
		"--feature-store redis")
	fl.BoolVar(&f.offline, "offline-log", true, "also append accepted readings to the "+
		"offline store in <home>/offline")
	fl.StringVar(&f.healthListen, "health-listen", "127.0.0.1:8472", "gRPC health "+
		"listen address")
	fl.StringVar(&f.metricsListen, "metrics-listen", "", "HTTP listen address of "+
		"/metrics; empty turns it off")
	fl.StringVar(&f.addrFile, "addr-file", "", "write the health address actually "+
		"listened on to this file once subscribed")
	return cmd
}

func runIngest(ctx context.Context, g *globals, f *ingestFlags) error {
	if f.subscription == "" {
		return errors.New("--pubsub-subscription: required, such as " +
			"projects/P/subscriptions/S")
	}
	if _, _, err := pubsub.ParseSubscription(f.subscription); err != nil {
		return fmt.Errorf("--pubsub-subscription: %w", err)
	}
	log := g.logger()
	store, closeStore, err := openFeatureStore(g, &serveFlags{store: f.store,
		redisAddr: f.redisAddr}, log)
	if err != nil {
		return err
	}
	defer closeStore()

	bgCtx, stop := context.WithCancel(ctx)
	defer stop()
	if f.offline {
		var closeOffline func()
		if store, closeOffline, err = recordOffline(bgCtx, g.home, store, log); err != nil {
			return err
		}
		defer closeOffline()
	}

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	src, err := pubsub.Subscribe(ctx, f.subscription, store,
		&pubsub.Options{Registerer: metrics})
	if err != nil {
		return fmt.Errorf("--pubsub-subscription: %w", err)
	}
	defer src.Close()

	hlis, err := net.Listen("tcp", f.healthListen)
	if err != nil {
		return fmt.Errorf("--health-listen %s: %w", f.healthListen, err)
	}
	gs := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(hlis)
	defer gs.Stop()
	if f.metricsListen != "" {
		mlis, err := net.Listen("tcp", f.metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen %s: %w", f.metricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mlis)
		defer msrv.Close()
	}

	done := make(chan error, 1)
	go func() { done <- src.Run(bgCtx) }()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if f.addrFile != "" {
		if err := writeAddrFile(f.addrFile, hlis.Addr().String()); err != nil {
			return err
		}
	}
	log.Info("ingesting", "subscription", f.subscription, "store", f.store,
		"health", hlis.Addr().String())

	var runErr error
	select {
	case runErr = <-done:
	case <-ctx.Done():
		stop()
		runErr = <-done
	}
	hs.Shutdown()
	st := src.Stats()
	log.Info("stopped ingesting", "received", st.Received, "ingested", st.Ingested,
		"rejected", st.Rejected, "dead_lettered", st.DeadLettered, "nacked", st.Nacked)
	if runErr != nil && ctx.Err() == nil {
		return fmt.Errorf("pub/sub ingest: %w", runErr)
	}
	return nil
}
