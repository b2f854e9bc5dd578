package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/auth"
	"github.com/hydrocast/hydrocast/evaluation/drift"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/fallback"
	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/pubsub"
	"github.com/hydrocast/hydrocast/features/redisstore"
	"github.com/hydrocast/hydrocast/features/wal"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/inference/batch"
	"github.com/hydrocast/hydrocast/inference/oip"
	"github.com/hydrocast/hydrocast/inference/telemetry"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/engine"
	"github.com/hydrocast/hydrocast/registry/local"
)

type serveFlags struct {
	security        securityFlags
	store           string
	redisAddr       string
	listen          string
	httpListen      string
	addrFile        string
	alias           string
	reloadInterval  time.Duration
	shutdownTimeout time.Duration
	batching        batchFlags
	traceExporter   string
	traceEndpoint   string
	offline         bool
	pubsubSub       string
	pprofAddr       string
	assignmentLog   string
}

func newServeCommand(g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gRPC server: reading ingest, assessments, health and reflection",
		Long: `Serve loads the registry's production versions of the three models into ONNX
Runtime and serves, on --listen (gRPC):

  hydrocast.v1.HydrocastService    client-streaming Ingest, Assess, AssessBatch and
                                   RecordOutcome (post-session weigh-ins, kept as labels)
  hydrocast.v1.RegistryService     models, versions, uploads, watching the registry
  inference.GRPCInferenceService   the Open Inference Protocol v2 (ModelInfer,
                                   ModelMetadata, ModelReady, ServerLive, ...)
  grpc.health.v1.Health            SERVING once the production versions are warm

with server reflection, so grpcurl works without .proto files; and on --http-listen
the protocol's REST twin (POST /v2/models/NAME/infer, GET /v2/models/NAME, ...) and
Prometheus metrics at /metrics.

The server polls the registry and switches to new versions when an alias or a
traffic policy moves. It stops on SIGINT or SIGTERM, letting requests in flight
finish within --shutdown-timeout.

Security: without flags it listens on loopback only, without TLS or authentication.
Any other address needs --auth local or oidc (or the unsafe flag). Each call needs the
least role its method needs (service: ingest, assess, infer); health, liveness and
reflection stay open. Calls are limited per principal and per address, refused calls
carry a retry hint, and authentication failures, denials and the calls that change
what is kept (uploads, alias moves, RecordOutcome, ...) go to <home>/audit/auth.jsonl.
Athlete ids in logs are replaced by keyed pseudonyms.`,
		Example: `  hydrocast serve
  grpcurl -plaintext 127.0.0.1:8470 list
  grpcurl -plaintext -d '{"athlete_id":"a-17"}' 127.0.0.1:8470 \
    hydrocast.v1.HydrocastService/Assess

  # tokens signed by a local key, TLS 1.3, every interface
  hydrocast token keygen
  hydrocast serve --auth local --tls-cert server.pem --tls-key server-key.pem \
    --listen :8470 --http-listen :8471
  grpcurl -cacert ca.pem -H "authorization: Bearer $(hydrocast token issue \
    --role service --subject coach-app)" -d '{"athlete_id":"a-17"}' host:8470 \
    hydrocast.v1.HydrocastService/Assess`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.security.ratesSet = cmd.Flags().Changed("rate-limit") ||
				cmd.Flags().Changed("rate-limit-per-address")
			return runServe(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	f.security.register(fl)
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
	fl.DurationVar(&f.reloadInterval, "reload-interval", time.Second,
		"how often to check the registry for moved aliases and traffic policies")
	fl.BoolVar(&f.offline, "offline-log", true, "also append every accepted reading "+
		"(late ones marked) to the offline store in <home>/offline, for training and export")
	fl.StringVar(&f.pubsubSub, "pubsub-subscription", "", "also ingest readings from this "+
		"Pub/Sub subscription, projects/P/subscriptions/S (PUBSUB_EMULATOR_HOST selects "+
		"an emulator)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second,
		"how long requests in flight may take to finish at shutdown")
	f.batching.register(fl)
	fl.StringVar(&f.traceExporter, "trace-exporter", "none", "OpenTelemetry trace "+
		"exporter: none, stdout (JSON spans on standard output) or otlp")
	fl.StringVar(&f.traceEndpoint, "trace-endpoint", "", "OTLP collector host:port "+
		"for --trace-exporter otlp; empty means OTEL_EXPORTER_OTLP_ENDPOINT or "+
		"localhost:4317")
	fl.StringVar(&f.assignmentLog, "assignment-log", "", "JSON-lines file that each "+
		"A/B traffic assignment is appended to, athlete ids pseudonymized; default "+
		"<home>/logs/assignments.jsonl, - for the server's own log")
	fl.StringVar(&f.pprofAddr, "pprof-addr", "", "serve Go's runtime profiles "+
		"(CPU, heap, goroutines; /debug/pprof/) on this loopback host:port, without "+
		"authentication; empty, the default, turns it off")
	return cmd
}

// observability is what the server measures itself with: one metrics registry,
// served at /metrics, and the tracer provider, nil when tracing is off.
type observability struct {
	metrics  *prometheus.Registry
	tracer   trace.TracerProvider
	batching map[string]batch.Options
}

func newObservability(ctx context.Context, f *serveFlags) (*observability,
	func(context.Context) error, error) {
	batching, err := f.batching.options()
	if err != nil {
		return nil, nil, err
	}
	tp, stop, err := telemetry.NewTracerProvider(ctx, telemetry.TracingOptions{
		Exporter: f.traceExporter, Endpoint: f.traceEndpoint})
	if err != nil {
		return nil, nil, fmt.Errorf("--trace-exporter: %w", err)
	}
	o := &observability{metrics: prometheus.NewRegistry(), tracer: tp, batching: batching}
	o.metrics.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return o, stop, nil
}

// check refuses flag values that cannot mean anything, naming the flag.
func (f *serveFlags) check() error {
	bad := func(flag string, v any, want string) error {
		return fmt.Errorf("%s %v: want %s", flag, v, want)
	}
	switch {
	case f.reloadInterval <= 0:
		return bad("--reload-interval", f.reloadInterval, "a positive duration")
	case f.shutdownTimeout < 0:
		return bad("--shutdown-timeout", f.shutdownTimeout, "0 or more")
	case f.security.maxInflight < 0:
		return bad("--max-inflight", f.security.maxInflight, "0 (no limit) or more")
	case f.security.rate < 0 || math.IsNaN(f.security.rate):
		return bad("--rate-limit", f.security.rate, "0 (no limit) or more calls a second")
	case f.security.addrRate < 0 || math.IsNaN(f.security.addrRate):
		return bad("--rate-limit-per-address", f.security.addrRate,
			"0 (no limit) or more calls a second")
	case f.security.tlsReload < 0:
		return bad("--tls-reload-interval", f.security.tlsReload, "0 or more")
	}
	return nil
}

func runServe(ctx context.Context, g *globals, f *serveFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	// The batching flags are checked before anything is opened or written.
	if _, err := f.batching.options(); err != nil {
		return err
	}
	if err := f.security.checkBind(f.listen, f.httpListen); err != nil {
		return err
	}
	if f.pprofAddr != "" {
		if err := checkPprofAddr(f.pprofAddr); err != nil {
			return err
		}
	}
	sec, err := newSecurity(ctx, g.home, &f.security, g.logger())
	if err != nil {
		return err
	}
	defer sec.Close()
	log := sec.log

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
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	if f.offline {
		var closeOffline func()
		if store, closeOffline, err = recordOffline(bgCtx, g.home, store, log); err != nil {
			set.Close()
			return err
		}
		defer closeOffline()
	}
	srv := inference.NewServer(store, set, log)
	defer srv.Close()
	closeAssignments, err := logAssignments(g.home, f.assignmentLog, srv, sec)
	if err != nil {
		return err
	}
	defer closeAssignments()

	obs, stopTracing, err := newObservability(ctx, f)
	if err != nil {
		return err
	}
	defer stopTracing(context.Background())

	// Live drift sketches of every served version, kept across restarts.
	live, err := drift.NewLive(drift.LiveOptions{Dir: filepath.Join(g.home, "drift"),
		Logger: log})
	if err != nil {
		return err
	}
	defer live.Close()
	srv.SetDrift(inference.NewDriftRecorder(live))
	obs.metrics.MustRegister(live.Collector())
	go live.Run(bgCtx)

	lis, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	labels, err := openLabels(g.home)
	if err != nil {
		lis.Close()
		return err
	}
	defer labels.Close()
	api, err := newAPIServer(srv, apiExtras{registry: reg, labels: labels}, sec, obs, log)
	if err != nil {
		lis.Close()
		return err
	}

	go srv.Watch(bgCtx, reg, inference.WatchOptions{Interval: f.reloadInterval,
		Alias: f.alias, RetireCorrupt: true})
	go sec.run(bgCtx)

	errc := make(chan error, 4)
	if f.pubsubSub != "" {
		src, err := pubsub.Subscribe(ctx, f.pubsubSub, store, nil)
		if err != nil {
			lis.Close()
			return fmt.Errorf("--pubsub-subscription: %w", err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := src.Run(bgCtx); err != nil && bgCtx.Err() == nil {
				errc <- fmt.Errorf("pub/sub ingest: %w", err)
			}
		}()
		defer func() { stopBackground(); <-done; src.Close() }()
	}
	log.Info("serving", "addr", lis.Addr().String(), "models", set.Versions(),
		"auth", f.security.authMode, "tls", sec.tls != nil)
	for _, name := range slices.Sorted(maps.Keys(obs.batching)) {
		o, model := obs.batching[name], name
		switch {
		case name == "" && len(obs.batching) == 1:
			model = "every model"
		case name == "":
			model = "every other model"
		}
		if o.MaxSize < 2 {
			log.Info("dynamic batching off", "model", model)
			continue
		}
		log.Info("dynamic batching", "model", model, "max_size", o.MaxSize,
			"max_delay", o.MaxDelay, "instances", o.Instances, "queue_size", o.QueueSize)
	}
	go func() { errc <- api.grpc.Serve(lis) }()
	var hsrv *http.Server
	if f.httpListen != "" {
		if hsrv, err = serveHTTP(f.httpListen, api, sec, errc, log); err != nil {
			api.grpc.Stop()
			return err
		}
	}
	if f.pprofAddr != "" {
		psrv, err := servePprof(f.pprofAddr, errc, log)
		if err != nil {
			api.grpc.Stop()
			return err
		}
		defer psrv.Close()
	}
	if f.addrFile != "" {
		if err := writeAddrFile(f.addrFile, lis.Addr().String()); err != nil {
			api.grpc.Stop()
			return err
		}
	}

	select {
	case err := <-errc:
		api.grpc.Stop()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", f.shutdownTimeout)
	api.health.Shutdown()
	api.oip.DrainBatches()
	if hsrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
		defer cancel()
		_ = hsrv.Shutdown(sctx)
	}
	stopGracefully(api.grpc, f.shutdownTimeout)
	return nil
}

// apiServer is the gRPC server with every service registered, and the REST twin's
// handler of the same models.
type apiServer struct {
	grpc   *grpc.Server
	health *health.Server
	oip    *oip.Server
	rest   http.Handler
	// metrics serves /metrics beside the REST twin, behind the same security layer.
	metrics http.Handler
}

// newAPIServer registers hydrocast.v1, the Open Inference Protocol, health and
// reflection behind the security layer. It refuses to build a server one of whose
// methods the policy does not name, since such a method would be denied to all.
func newAPIServer(srv *inference.Server, x apiExtras, sec *security, obs *observability,
	log *slog.Logger) (*apiServer, error) {
	grpcMetrics, err := telemetry.NewGRPCMetrics(obs.metrics)
	if err != nil {
		return nil, err
	}
	inferMetrics, err := telemetry.NewInferenceMetrics(obs.metrics)
	if err != nil {
		return nil, err
	}
	// Metrics first, so that calls the security layer refuses are counted too.
	opts := append(telemetry.ServerOptions(grpcMetrics, obs.tracer), sec.grpcOptions()...)
	gs := grpc.NewServer(opts...)
	registerServices(gs, srv, x, log)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	oipOpts := oip.Options{Version: version, MaxBatch: 1024,
		MaxRequestBytes: 4 << 20, Logger: log, Batching: obs.batching,
		Metrics: inferMetrics}
	if obs.tracer != nil {
		// Without an exporter no span records: leaving the tracer out spares every
		// request the look for one.
		oipOpts.Tracer = telemetry.Tracer(obs.tracer)
	}
	oipSrv := oip.New(srv, oipOpts)
	oipSrv.Register(gs)
	reflection.Register(gs)
	if missing := auth.DefaultPolicy().Uncovered(gs); len(missing) > 0 {
		return nil, fmt.Errorf("methods without an access rule in package auth: %v",
			missing)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(hydrocastv1.HydrocastService_ServiceDesc.ServiceName,
		healthpb.HealthCheckResponse_SERVING)
	return &apiServer{grpc: gs, health: hs, oip: oipSrv, rest: oipSrv.Handler(),
		metrics: telemetry.Handler(obs.metrics)}, nil
}

// serveHTTP starts the REST twin on addr, over TLS when it is on; Serve's error goes
// to errc.
func serveHTTP(addr string, api *apiServer, sec *security, errc chan<- error,
	log *slog.Logger) (*http.Server, error) {
	hlis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	handler := api.rest
	if api.metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", api.metrics)
		mux.Handle("/", api.rest)
		handler = mux
	}
	// /metrics too is behind the security layer: any role may read it (the policy's
	// route table), none may without a token once authentication is on.
	hsrv := sec.httpServer(handler)
	go func() {
		if hsrv.TLSConfig != nil {
			errc <- hsrv.ServeTLS(hlis, "", "")
			return
		}
		errc <- hsrv.Serve(hlis)
	}()
	log.Info("serving REST", "addr", hlis.Addr().String(), "tls", hsrv.TLSConfig != nil)
	return hsrv, nil
}

// recordOffline wraps store so that every reading it accepts is also appended to the
// offline store in <home>/offline, which a goroutine flushes until ctx ends. The
// returned function writes out what is left, logging a failure.
func recordOffline(ctx context.Context, home string, store features.OnlineStore,
	log *slog.Logger) (features.OnlineStore, func(), error) {
	off, err := offline.Open(filepath.Join(home, "offline"), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("open offline store: %w", err)
	}
	go off.Run(ctx)
	closeOffline := func() {
		if err := off.Close(); err != nil {
			log.Error("offline store: readings not written", "err", err)
		}
	}
	return offline.NewRecorder(store, off, 0), closeOffline, nil
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
// A folder at path is refused before anything is written.
func writeFileAtomic(path string, data []byte) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("write %s: it is a folder; name a file", path)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// logAssignments sends srv's traffic assignments to the JSON-lines file path
// (default <home>/logs/assignments.jsonl), appending, with athlete ids pseudonymized
// as in the server's log; "-" leaves them in that log. It returns what closes the
// file.
func logAssignments(home, path string, srv *inference.Server, sec *security) (func(),
	error) {
	switch path {
	case "-":
		return func() {}, nil
	case "":
		path = filepath.Join(home, "logs", "assignments.jsonl")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("--assignment-log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--assignment-log: %w", err)
	}
	srv.SetAssignmentLog(slog.New(sec.pseudonymize(slog.NewJSONHandler(f, nil))))
	return func() { f.Close() }, nil
}
