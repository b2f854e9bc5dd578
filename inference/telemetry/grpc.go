package telemetry

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// GRPCMetrics counts and times every gRPC call a server handles, under the names
// that grpc-ecosystem's go-grpc-prometheus made common (grpc_server_handled_total and
// its kin), so that existing dashboards read them.
type GRPCMetrics struct {
	started  *prometheus.CounterVec
	handled  *prometheus.CounterVec
	received *prometheus.CounterVec
	sent     *prometheus.CounterVec
	handling *prometheus.HistogramVec
}

// NewGRPCMetrics returns gRPC server metrics registered on reg.
func NewGRPCMetrics(reg prometheus.Registerer) (*GRPCMetrics, error) {
	call := []string{"grpc_type", "grpc_service", "grpc_method"}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help},
			labels)
	}
	m := &GRPCMetrics{
		started: counter("grpc_server_started_total",
			"RPCs started on the server.", call),
		handled: counter("grpc_server_handled_total",
			"RPCs completed on the server, by status code.",
			append(call[:3:3], "grpc_code")),
		received: counter("grpc_server_msg_received_total",
			"Stream messages received by the server.", call),
		sent: counter("grpc_server_msg_sent_total",
			"Stream messages sent by the server.", call),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Time from the start of an RPC to its status, on the server.",
			Buckets: latencyBuckets,
		}, call),
	}
	for _, c := range []prometheus.Collector{m.started, m.handled, m.received, m.sent,
		m.handling} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// splitMethod splits "/package.Service/Method" into service and method.
func splitMethod(full string) (string, string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndex(full, "/"); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}

func streamType(info *grpc.StreamServerInfo) string {
	switch {
	case info.IsClientStream && info.IsServerStream:
		return "bidi_stream"
	case info.IsClientStream:
		return "client_stream"
	}
	return "server_stream"
}

// UnaryServerInterceptor returns an interceptor that measures unary calls.
func (m *GRPCMetrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo,
		handler grpc.UnaryHandler) (any, error) {
		if m == nil {
			return handler(ctx, req)
		}
		service, method := splitMethod(info.FullMethod)
		m.started.WithLabelValues("unary", service, method).Inc()
		start := time.Now()
		resp, err := handler(ctx, req)
		m.done("unary", service, method, start, err)
		return resp, err
	}
}

// StreamServerInterceptor returns an interceptor that measures streaming calls and
// counts their messages.
func (m *GRPCMetrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo,
		handler grpc.StreamHandler) error {
		if m == nil {
			return handler(srv, ss)
		}
		typ := streamType(info)
		service, method := splitMethod(info.FullMethod)
		m.started.WithLabelValues(typ, service, method).Inc()
		start := time.Now()
		err := handler(srv, &countingStream{ServerStream: ss,
			received: m.received.WithLabelValues(typ, service, method),
			sent:     m.sent.WithLabelValues(typ, service, method)})
		m.done(typ, service, method, start, err)
		return err
	}
}

func (m *GRPCMetrics) done(typ, service, method string, start time.Time, err error) {
	code := status.Code(err)
	m.handled.WithLabelValues(typ, service, method, code.String()).Inc()
	m.handling.WithLabelValues(typ, service, method).Observe(time.Since(start).Seconds())
}

// countingStream counts the messages that pass through a server stream.
type countingStream struct {
	grpc.ServerStream
	received, sent prometheus.Counter
}

func (s *countingStream) RecvMsg(msg any) error {
	err := s.ServerStream.RecvMsg(msg)
	if err == nil {
		s.received.Inc()
	}
	return err
}

func (s *countingStream) SendMsg(msg any) error {
	err := s.ServerStream.SendMsg(msg)
	if err == nil {
		s.sent.Inc()
	}
	return err
}

// ServerOptions returns the options that instrument a gRPC server: m's interceptors,
// unless m is nil, and, unless tp is nil, OpenTelemetry's stats handler, which starts
// a span per call, continues the traces that callers propagate and records through tp.
func ServerOptions(m *GRPCMetrics, tp trace.TracerProvider) []grpc.ServerOption {
	var opts []grpc.ServerOption
	if m != nil {
		opts = append(opts, grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor()),
			grpc.ChainStreamInterceptor(m.StreamServerInterceptor()))
	}
	if tp != nil {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(tp))))
	}
	return opts
}
