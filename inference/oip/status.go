package oip

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hydrocast/hydrocast/inference/batch"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

var (
	// errTooLarge marks a request over Options.MaxRequestBytes.
	errTooLarge = errors.New("request too large")

	// errNotJSON marks outputs that JSON cannot carry (NaN and infinities).
	errNotJSON = errors.New("output not representable in JSON")

	// errEncoding marks a REST body in a content encoding the server does not read.
	errEncoding = errors.New("content encoding not supported")
)

// statusOf is the one place where errors become what a caller sees: a gRPC code, an
// HTTP status and a message. Only errors the core made for the caller keep their
// text; anything else is an internal error, whose text might reveal file paths or
// data and which the core has logged already.
func statusOf(err error) (codes.Code, int, string) {
	switch {
	case errors.Is(err, errTooLarge):
		return codes.InvalidArgument, http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, errEncoding):
		return codes.InvalidArgument, http.StatusUnsupportedMediaType, err.Error()
	case errors.Is(err, ErrInvalidRequest):
		return codes.InvalidArgument, http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrUnsupported):
		return codes.Unimplemented, http.StatusNotImplemented, err.Error()
	case errors.Is(err, ErrModelNotFound):
		return codes.NotFound, http.StatusNotFound, err.Error()
	case errors.Is(err, batch.ErrQueueFull):
		return codes.ResourceExhausted, http.StatusTooManyRequests, err.Error()
	case errors.Is(err, ErrModelNotReady):
		return codes.Unavailable, http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, http.StatusGatewayTimeout,
			"deadline exceeded before the model ran"
	case errors.Is(err, context.Canceled):
		// 499 is the status proxies log for a client that went away; nobody reads it.
		return codes.Canceled, 499, "request canceled"
	case errors.Is(err, errNotJSON):
		return codes.Internal, http.StatusInternalServerError, err.Error()
	}
	return codes.Internal, http.StatusInternalServerError, "internal error"
}

// grpcError turns a core error into a gRPC status error. A full batch queue's
// carries RetryInfo, as the server's other overload refusals do.
func grpcError(err error) error {
	code, _, msg := statusOf(err)
	st := status.New(code, msg)
	if after, ok := retryAfter(err); ok {
		if detailed, derr := st.WithDetails(&errdetails.RetryInfo{
			RetryDelay: durationpb.New(after)}); derr == nil {
			st = detailed
		}
	}
	return st.Err()
}

// retryAfter returns how long a caller refused with err should wait before it
// retries, when err says.
func retryAfter(err error) (time.Duration, bool) {
	var full *batch.QueueFullError
	if errors.As(err, &full) {
		return full.RetryAfter, true
	}
	return 0, false
}
