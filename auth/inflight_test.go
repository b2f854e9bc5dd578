package auth

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hydrocast/hydrocast/auth/ratelimit"
)

// hold runs a call through the guard's unary interceptor whose handler blocks until
// release is closed; entered is closed once the handler runs.
func hold(g *Guard, method string) (entered, release chan struct{}, done chan error) {
	entered, release, done = make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := g.UnaryInterceptor()(context.Background(), nil,
			&grpc.UnaryServerInfo{FullMethod: method},
			func(context.Context, any) (any, error) {
				close(entered)
				<-release
				return "ok", nil
			})
		done <- err
	}()
	return entered, release, done
}

func TestInflightBoundRefusesExcessAtOnce(t *testing.T) {
	g := New(Options{Inflight: ratelimit.NewGate(1)})
	assess := "/hydrocast.v1.HydrocastService/Assess"
	entered, release, done := hold(g, assess)
	<-entered

	_, err := callUnary(g, assess, "", "127.0.0.1", nil)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second call with the one slot taken: %v, want ResourceExhausted", err)
	}
	if d := retryDelay(t, err); d != 100*time.Millisecond {
		t.Errorf("retry hint %v, want the default 100ms", d)
	}
	_, err = callUnary(g, "/grpc.health.v1.Health/Check", "", "127.0.0.1", nil)
	if err != nil {
		t.Errorf("health check while saturated: %v, want it answered", err)
	}
	w := serveHTTP(g, "POST", "/v2/models/m/infer", "")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("REST call while saturated: %d, Retry-After %q; want 503 with 1",
			w.Code, w.Header().Get("Retry-After"))
	}

	close(release)
	if err := <-done; err != nil {
		t.Fatalf("held call: %v", err)
	}
	if _, err := callUnary(g, assess, "", "127.0.0.1", nil); err != nil {
		t.Errorf("call after the slot came back: %v", err)
	}
	if n := g.opts.Inflight.InFlight(); n != 0 {
		t.Errorf("%d slots still taken after every call ended", n)
	}
}

func TestInflightSlotComesBackAfterDenial(t *testing.T) {
	iss := newIssuer(t)
	g := New(Options{Verifier: iss.verifier, Inflight: ratelimit.NewGate(1)})

	for range 3 {
		_, err := callUnary(g, "/hydrocast.v1.HydrocastService/Assess", "", "127.0.0.1", nil)
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("call without token: %v, want Unauthenticated", err)
		}
	}
	if g.opts.Inflight.InFlight() != 0 {
		t.Errorf("%d slots taken after denied calls, want 0", g.opts.Inflight.InFlight())
	}
}
