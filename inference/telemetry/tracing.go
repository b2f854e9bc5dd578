package telemetry

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName names the tracer that records the inference spans.
const TracerName = "github.com/hydrocast/hydrocast/inference"

// Exporters TracingOptions.Exporter accepts.
const (
	// ExporterNone turns tracing off.
	ExporterNone = "none"
	// ExporterStdout writes spans as JSON to TracingOptions.Writer.
	ExporterStdout = "stdout"
	// ExporterOTLP sends spans over OTLP/gRPC to TracingOptions.Endpoint.
	ExporterOTLP = "otlp"
)

// TracingOptions choose where spans go. The zero value turns tracing off.
type TracingOptions struct {
	// Exporter is "none" (or empty) for no tracing, "stdout" for spans written as
	// JSON lines to Writer, or "otlp" for OTLP over gRPC to Endpoint.
	Exporter string

	// Endpoint is the OTLP collector's host:port. Empty means the exporter's own
	// default: OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4317.
	Endpoint string

	// Insecure sends OTLP without TLS, for a collector on the same host.
	Insecure bool

	// Writer receives the stdout exporter's spans. Nil means os.Stdout.
	Writer io.Writer

	// ServiceName is the service.name of every span. Empty means "hydrocast".
	ServiceName string

	// SampleRatio is the share of new traces recorded, 0 to 1; traces that callers
	// propagate keep their own decision. Zero means 1: every trace.
	SampleRatio float64
}

// NewTracerProvider returns a tracer provider that exports as opts say, and the
// function that flushes and stops it at shutdown. With no exporter it returns nil
// and a no-op shutdown: pass the nil on, and tracing costs nothing.
func NewTracerProvider(ctx context.Context, opts TracingOptions) (trace.TracerProvider,
	func(context.Context) error, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch opts.Exporter {
	case "", ExporterNone:
		return nil, func(context.Context) error { return nil }, nil
	case ExporterStdout:
		w := opts.Writer
		if w == nil {
			w = os.Stdout
		}
		exp, err = stdouttrace.New(stdouttrace.WithWriter(w))
	case ExporterOTLP:
		var o []otlptracegrpc.Option
		if opts.Endpoint != "" {
			o = append(o, otlptracegrpc.WithEndpoint(opts.Endpoint))
		}
		if opts.Insecure {
			o = append(o, otlptracegrpc.WithInsecure())
		}
		exp, err = otlptracegrpc.New(ctx, o...)
	default:
		return nil, nil, fmt.Errorf("trace exporter %q: want none, stdout or otlp",
			opts.Exporter)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("start %s trace exporter: %w", opts.Exporter, err)
	}

	name := opts.ServiceName
	if name == "" {
		name = "hydrocast"
	}
	ratio := opts.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(name))),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return tp, tp.Shutdown, nil
}

// Tracer returns the tracer of the inference spans from tp; a nil tp gives a tracer
// that records nothing.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return noop.NewTracerProvider().Tracer(TracerName)
	}
	return tp.Tracer(TracerName)
}

// Phases are the moments of one inference request's life that the spans mark.
type Phases struct {
	// Queued is when the request was ready to run; Started when its run began;
	// Finished when the run ended.
	Queued, Started, Finished time.Time

	// Rows is how many rows the run took, the whole batch's when batched.
	Rows int
}

// RecordPhases adds two child spans to the span in ctx, after the fact: "queue",
// from Queued to Started, and "compute", from Started to Finished. A span that is
// not recording is left alone at no cost.
func RecordPhases(ctx context.Context, tr trace.Tracer, model, version string, p Phases) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	attrs := trace.WithAttributes(attribute.String("model.name", model),
		attribute.String("model.version", version))
	_, q := tr.Start(ctx, "queue", trace.WithTimestamp(p.Queued), attrs)
	q.End(trace.WithTimestamp(p.Started))
	_, c := tr.Start(ctx, "compute", trace.WithTimestamp(p.Started), attrs,
		trace.WithAttributes(attribute.Int("batch.rows", p.Rows)))
	c.End(trace.WithTimestamp(p.Finished))
}
