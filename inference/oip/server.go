package oip

import (
	"log/slog"
	"net/http"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/inference/batch"
	"github.com/hydrocast/hydrocast/inference/telemetry"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// ServerName is the name ServerMetadata reports.
const ServerName = "hydrocast"

// Options tune a Server. The zero value of each field selects the default.
type Options struct {
	// Version is the server version ServerMetadata reports. Empty means "dev".
	Version string

	// MaxBatch is the largest first dimension, in rows, accepted for an input whose
	// first dimension the model leaves open. Zero means 1024.
	MaxBatch int

	// MaxRequestBytes is the largest request accepted, in bytes of its encoded form
	// (protobuf or JSON). Zero means 4 MiB, gRPC's default limit on received
	// messages; a gRPC server with a lower limit refuses larger messages first.
	MaxRequestBytes int

	// Logger receives internal errors, whose text callers are not shown. Nil means
	// they are dropped.
	Logger *slog.Logger

	// Batching holds the dynamic batching options of models by name; the entry ""
	// applies to every model not named. A model batches when its options have a
	// MaxSize of 2 or more and every input and output of its versions has an open
	// first dimension; each version gets its own batcher, whose OnRun and OnQueue
	// the server sets to feed Metrics. Nil means no batching.
	Batching map[string]batch.Options

	// Metrics receives a count and the timings of every inference request. Nil means
	// none are kept.
	Metrics *telemetry.InferenceMetrics

	// Tracer records a "queue" and a "compute" span under each inference request's
	// span, when that span records (see telemetry.ServerOptions). Nil means none.
	Tracer trace.Tracer
}

// DefaultOptions returns the options a zero Options stands for, spelled out.
func DefaultOptions() Options {
	return Options{Version: "dev", MaxBatch: 1024, MaxRequestBytes: 4 << 20,
		Logger: slog.New(slog.DiscardHandler)}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Version == "" {
		o.Version = d.Version
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = d.MaxBatch
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = d.MaxRequestBytes
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	return o
}

// Server serves a Repository's models over the Open Inference Protocol. It implements
// inferencepb.GRPCInferenceServiceServer, and Handler returns the REST twin. Its
// methods are safe for concurrent use.
type Server struct {
	inferencepb.UnimplementedGRPCInferenceServiceServer

	repo     Repository
	opts     Options
	rest     *http.ServeMux
	batchers batchers
}

// New returns a Server for the models of repo.
func New(repo Repository, opts Options) *Server {
	s := &Server{repo: repo, opts: opts.withDefaults()}
	s.rest = s.routes()
	return s
}

// Register adds the gRPC service to gs, which may serve other services too.
func (s *Server) Register(gs grpc.ServiceRegistrar) {
	inferencepb.RegisterGRPCInferenceServiceServer(gs, s)
}

// Handler returns the REST twin of the gRPC service, with every route under /v2.
func (s *Server) Handler() http.Handler {
	return s.rest
}
