package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/auth"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/fallback"
	"github.com/hydrocast/hydrocast/features/redisstore"
	"github.com/hydrocast/hydrocast/features/wal"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/inference/oip"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/engine"
	"github.com/hydrocast/hydrocast/registry/local"
)

type serveFlags struct {
	insecure        bool
	store           string
	redisAddr       string
	listen          string
	httpListen      string
	addrFile        string
	alias           string
	reloadInterval  time.Duration
	shutdownTimeout time.Duration
}

func newServeCommand(g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gRPC server: reading ingest, assessments, health and reflection",
		Long: `Serve loads the registry's production versions of the three models into ONNX
Runtime and serves the hydrocast.v1 API (client-streaming Ingest, Assess, AssessBatch)
with gRPC health checking and server reflection, so grpcurl works without .proto files.

The server polls the registry and switches to new versions when an alias moves. It
stops on SIGINT or SIGTERM, letting requests in flight finish within --shutdown-timeout.`,
		Example: `  hydrocast serve
  grpcurl -plaintext 127.0.0.1:8470 list
  grpcurl -plaintext -d '{"athlete_id":"a-17"}' 127.0.0.1:8470 \
    hydrocast.v1.HydrocastService/Assess`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.insecure, "insecure-allow-unauthenticated", false, "UNSAFE: serve "+
		"athletes' data without authentication on an address other machines can reach")
	fl.StringVar(&f.store, "feature-store", "wal", "online feature store: wal (in memory, "+
		"every acknowledged reading logged to <home>/wal first), memory, or redis")
	fl.StringVar(&f.redisAddr, "redis-addr", "127.0.0.1:6379", "Redis address for "+
		"--feature-store redis; replicas sharing it serve the same features")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8470", "gRPC listen address; "+
		"port 0 picks a free port")
	fl.StringVar(&f.httpListen, "http-listen", "127.0.0.1:8471", "listen address of the "+
		"Open Inference Protocol's REST twin (/v2/…); empty turns it off")
	fl.StringVar(&f.addrFile, "addr-file", "", "write the address actually listened on "+
		"to this file once ready")
	fl.StringVar(&f.alias, "alias", "production", "registry alias of the versions to serve")
	fl.DurationVar(&f.reloadInterval, "reload-interval", 2*time.Second,
		"how often to check the registry for moved aliases")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second,
		"how long requests in flight may take to finish at shutdown")
	return cmd
}

func runServe(ctx context.Context, g *globals, f *serveFlags) error {
	log := g.logger()
	// TODO: serve has no authentication wired yet (package auth holds TLS, tokens and
	// roles); until it has, only loopback listeners start without the unsafe flag.
	for _, addr := range []string{f.listen, f.httpListen} {
		if addr == "" {
			continue
		}
		if err := auth.CheckBind(addr, false, f.insecure); err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	reg, err := openRegistry(ctx, g)
	if err != nil {
		return err
	}
	defer reg.Close()
	if err := initRuntime(); err != nil {
		return err
	}
	set, err := inference.LoadModelSet(ctx, reg, f.alias, ort.Options{})
	if err != nil {
		return fmt.Errorf("%w (registry: %s; --home or --registry names another)",
			err, registryName(g))
	}
	store, closeStore, err := openFeatureStore(g, f, log)
	if err != nil {
		set.Close()
		return err
	}
	defer closeStore()
	srv := inference.NewServer(store, set, log)
	defer srv.Close()

	lis, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	gs := grpc.NewServer()
	hydrocastv1.RegisterHydrocastServiceServer(gs, srv)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	oipSrv := oip.New(srv, oip.Options{Version: version, MaxBatch: 1024,
		MaxRequestBytes: 4 << 20, Logger: log})
	oipSrv.Register(gs)
	reflection.Register(gs)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(hydrocastv1.HydrocastService_ServiceDesc.ServiceName,
		healthpb.HealthCheckResponse_SERVING)

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go srv.WatchRegistry(watchCtx, f.reloadInterval, reloader(reg, f.alias))

	if f.addrFile != "" {
		if err := writeAddrFile(f.addrFile, lis.Addr().String()); err != nil {
			return err
		}
	}
	log.Info("serving", "addr", lis.Addr().String(), "models", set.Versions())

	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(lis) }()
	var hsrv *http.Server
	if f.httpListen != "" {
		hlis, err := net.Listen("tcp", f.httpListen)
		if err != nil {
			gs.Stop()
			return fmt.Errorf("listen on %s: %w", f.httpListen, err)
		}
		hsrv = &http.Server{Handler: oipSrv.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- hsrv.Serve(hlis) }()
		log.Info("serving REST", "addr", hlis.Addr().String())
	}
	select {
	case err := <-errc:
		gs.Stop()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", f.shutdownTimeout)
	hs.Shutdown()
	if hsrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
		defer cancel()
		_ = hsrv.Shutdown(sctx)
	}
	stopGracefully(gs, f.shutdownTimeout)
	return nil
}

// openFeatureStore opens the online store the flags choose. Redis is wrapped so that
// assessments go on from the last known vectors, marked stale, while it is away.
func openFeatureStore(g *globals, f *serveFlags, log *slog.Logger) (features.OnlineStore,
	func() error, error) {
	switch f.store {
	case "memory":
		return features.NewStore(nil), func() error { return nil }, nil
	case "wal":
		opts := wal.DefaultOptions()
		opts.Logger = log
		d, err := wal.Open(filepath.Join(g.home, "wal"), &opts)
		if err != nil {
			return nil, nil, fmt.Errorf("open feature log: %w", err)
		}
		return d, d.Close, nil
	case "redis":
		rdb := redis.NewClient(&redis.Options{Addr: f.redisAddr,
			ContextTimeoutEnabled: true})
		rs, err := redisstore.New(rdb, nil)
		if err != nil {
			rdb.Close()
			return nil, nil, fmt.Errorf("open redis feature store: %w", err)
		}
		fb := fallback.New(rs, &fallback.Options{Timeout: 200 * time.Millisecond})
		return fb, rdb.Close, nil
	}
	return nil, nil, fmt.Errorf("--feature-store %q: want wal, memory or redis", f.store)
}

// stopGracefully lets requests and streams in flight finish, then ends what is left
// once the timeout passes.
func stopGracefully(gs *grpc.Server, timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		gs.Stop()
	}
}

// reloader returns the registry check that WatchRegistry runs: it loads a new model
// set only when the alias points at other versions than those served.
func reloader(reg *registry.Registry, alias string) func(context.Context,
	map[string]string) (*inference.ModelSet, error) {
	var lastRev int64 = -1
	return func(ctx context.Context, served map[string]string) (*inference.ModelSet, error) {
		rev, err := reg.Revision(ctx)
		if err != nil || rev == lastRev {
			return nil, err
		}
		lastRev = rev
		changed := false
		for name, version := range served {
			v, err := reg.Resolve(ctx, name, alias)
			if err != nil {
				return nil, err
			}
			if fmt.Sprint(v.Number) != version {
				changed = true
			}
		}
		if !changed {
			return nil, nil
		}
		return inference.LoadModelSet(ctx, reg, alias, ort.Options{})
	}
}

// newLocalServer builds an in-process server over a fresh in-memory store and the
// registry's production models, for replay without --server.
func newLocalServer(ctx context.Context, g *globals) (*inference.Server, func() error,
	error) {
	reg, err := openRegistry(ctx, g)
	if err != nil {
		return nil, nil, err
	}
	if err := initRuntime(); err != nil {
		reg.Close()
		return nil, nil, err
	}
	set, err := inference.LoadModelSet(ctx, reg, "production", ort.Options{})
	if err != nil {
		reg.Close()
		return nil, nil, fmt.Errorf("%w (registry: %s; --home or --registry names another)",
			err, registryName(g))
	}
	srv := inference.NewServer(features.NewStore(nil), set, slog.New(slog.DiscardHandler))
	return srv, func() error { return errors.Join(srv.Close(), reg.Close()) }, nil
}

// openRegistry opens the registry that --registry names, or by default the embedded
// one in the state folder.
func openRegistry(ctx context.Context, g *globals) (*registry.Registry, error) {
	if g.registry != "" {
		return engine.OpenURL(ctx, g.registry)
	}
	dir := filepath.Join(g.home, "registry")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create registry folder: %w", err)
	}
	return local.Open(ctx, dir)
}

// registryName says which registry the flags select, for error messages.
func registryName(g *globals) string {
	if g.registry != "" {
		return g.registry
	}
	return filepath.Join(g.home, "registry")
}

// initRuntime loads ONNX Runtime from where LibraryPath finds it.
func initRuntime() error {
	return ort.Init(ort.LibraryPath())
}

// writeAddrFile writes addr to path atomically, so a reader never sees half of it.
func writeAddrFile(path, addr string) error {
	return writeFileAtomic(path, []byte(addr+"\n"))
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
