package auth

import (
	"context"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// UnaryInterceptor returns the interceptor that checks unary calls; pass it to
// grpc.ChainUnaryInterceptor first, so nothing runs for a refused call.
func (g *Guard) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo,
		handler grpc.UnaryHandler) (any, error) {
		c := g.grpcCall(ctx, info.FullMethod)
		if a, ok := req.(interface{ GetAlias() string }); ok {
			c.alias = a.GetAlias()
		}
		entered, d := g.enter(c)
		if d != nil {
			return nil, grpcStatus(d)
		}
		defer g.leave(entered)
		p, d := g.check(ctx, c)
		if d != nil {
			return nil, grpcStatus(d)
		}

		resp, err := handler(g.admit(ctx, p, c.requestID), req)
		g.finish(c, p, err != nil)
		return resp, err
	}
}

// StreamInterceptor returns the interceptor that checks streaming calls. The first
// message is not read before the check, so a streaming method whose rule is
// PermMoveAlias is checked as moving production.
func (g *Guard) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo,
		handler grpc.StreamHandler) error {
		ctx := ss.Context()
		c := g.grpcCall(ctx, info.FullMethod)
		entered, d := g.enter(c)
		if d != nil {
			return grpcStatus(d)
		}
		defer g.leave(entered)
		p, d := g.check(ctx, c)
		if d != nil {
			return grpcStatus(d)
		}

		err := handler(srv, &guardedStream{ServerStream: ss,
			ctx: g.admit(ctx, p, c.requestID)})
		g.finish(c, p, err != nil)
		return err
	}
}

// guardedStream gives a stream's handler the context with its principal.
type guardedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *guardedStream) Context() context.Context { return s.ctx }

// grpcCall describes a gRPC call from its metadata and peer.
func (g *Guard) grpcCall(ctx context.Context, method string) call {
	rule, known := g.opts.Policy.Method(method)
	c := call{method: method, rule: rule, known: known}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		c.bearer = first(md.Get("authorization"))
		c.requestID = first(md.Get(RequestIDHeader))
	}
	c.requestID = requestID(c.requestID)
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		c.remote = hostOf(pr.Addr.String())
	}
	return c
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

// grpcStatus is the one place a denial becomes a gRPC status. Messages stay generic:
// why a token failed goes to the audit log, not to the caller.
func grpcStatus(d *denial) error {
	switch d.kind {
	case deniedUnauthenticated:
		return status.Error(codes.Unauthenticated, "missing or invalid bearer token")
	case deniedForbidden, deniedUnknown:
		// serve refuses to start with a method the policy lacks, so an unknown one
		// reaching here is a probe: it learns no more than a forbidden call.
		return status.Error(codes.PermissionDenied, "not allowed for this caller")
	case deniedUnavailable:
		return withRetry(codes.Unavailable, "cannot check tokens now", d.retryAfter)
	case deniedOverloaded:
		return withRetry(codes.ResourceExhausted, "server busy: too many calls in "+
			"flight; retry in "+d.retryAfter.Round(time.Millisecond).String(), d.retryAfter)
	default:
		return withRetry(codes.ResourceExhausted, "rate limit exceeded; retry in "+
			d.retryAfter.Round(time.Millisecond).String(), d.retryAfter)
	}
}

// withRetry returns a status carrying RetryInfo, which gRPC clients and proxies read
// to pace their retries.
func withRetry(code codes.Code, msg string, after time.Duration) error {
	st := status.New(code, msg)
	if detailed, err := st.WithDetails(&errdetails.RetryInfo{
		RetryDelay: durationpb.New(after)}); err == nil {
		st = detailed
	}
	return st.Err()
}
