package oip

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/inference/batch"

	"google.golang.org/grpc/codes"
)

func TestStatusOf(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		code    codes.Code
		http    int
		message string
	}{
		{"invalid", invalid("input %q: bad", "x"), codes.InvalidArgument, 400,
			`invalid inference request: input "x": bad`},
		{"too large", fmt.Errorf("%w: %w: 9 bytes", ErrInvalidRequest, errTooLarge),
			codes.InvalidArgument, 413, "invalid inference request: request too large: 9 bytes"},
		{"not found", fmt.Errorf("%w: model %q", ErrModelNotFound, "m"), codes.NotFound,
			404, `model not found: model "m"`},
		{"unsupported", fmt.Errorf("%w: FP16", ErrUnsupported), codes.Unimplemented, 501,
			"datatype not supported: FP16"},
		{"not ready", ErrModelNotReady, codes.Unavailable, 503, "model not ready"},
		{"deadline", fmt.Errorf("run: %w", context.DeadlineExceeded),
			codes.DeadlineExceeded, 504, "deadline exceeded before the model ran"},
		{"canceled", context.Canceled, codes.Canceled, 499, "request canceled"},
		{"internal text stays hidden", errors.New("open /srv/models/m.onnx: no such file"),
			codes.Internal, 500, "internal error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, status, msg := statusOf(c.err)
			if code != c.code || status != c.http || msg != c.message {
				t.Errorf("statusOf = %v %d %q, want %v %d %q", code, status, msg, c.code,
					c.http, c.message)
			}
		})
	}
}

// TestQueueFullSaysWhenToRetry: a full batch queue answers 429 with Retry-After in
// whole seconds, at least one, over REST.
func TestQueueFullSaysWhenToRetry(t *testing.T) {
	for after, want := range map[time.Duration]string{
		250 * time.Microsecond: "1", 1500 * time.Millisecond: "2", time.Minute: "60"} {
		rec := httptest.NewRecorder()
		err := fmt.Errorf("sweat-rate v1: %w",
			&batch.QueueFullError{Places: 8, RetryAfter: after})
		writeError(rec, err)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != want {
			t.Errorf("retry after %v: %d with Retry-After %q, want 429 with %q", after,
				rec.Code, rec.Header().Get("Retry-After"), want)
		}
	}
	rec := httptest.NewRecorder()
	writeError(rec, ErrModelNotReady)
	if got := rec.Header().Get("Retry-After"); got != "" {
		t.Errorf("model not ready: Retry-After %q, want none", got)
	}
}
