package oip

import (
	"context"
	"errors"
	"net/http"

	"github.com/hydrocast/hydrocast/inference/batch"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// errTooLarge marks a request over Options.MaxRequestBytes.
	errTooLarge = errors.New("request too large")

	// errNotJSON marks outputs that JSON cannot carry (NaN and infinities).
	errNotJSON = errors.New("output not representable in JSON")
)

// statusOf is the one place where errors become what a caller sees: a gRPC code, an
// HTTP status and a message. Only errors the core made for the caller keep their
// text; anything else is an internal error, whose text might reveal file paths or
// data and which the core has logged already.
func statusOf(err error) (codes.Code, int, string) {
	switch {
	case errors.Is(err, errTooLarge):
		return codes.InvalidArgument, http.StatusRequestEntityTooLarge, err.Error()
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

// grpcError turns a core error into a gRPC status error.
func grpcError(err error) error {
	code, _, msg := statusOf(err)
	return status.Error(code, msg)
}
