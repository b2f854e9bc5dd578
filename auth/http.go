package auth

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Middleware returns next guarded: each request is matched against the policy's
// routes, checked, and passed on with its principal in the context. The response
// carries the request id in X-Request-Id.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := g.httpCall(r)
		w.Header().Set(RequestIDHeader, c.requestID)
		entered, d := g.enter(c)
		if d != nil {
			writeDenial(w, d, c.bearer != "")
			return
		}
		defer g.leave(entered)
		p, d := g.check(r.Context(), c)
		if d != nil {
			writeDenial(w, d, c.bearer != "")
			return
		}

		r = r.WithContext(g.admit(r.Context(), p, c.requestID))
		if !c.rule.Audited {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		g.finish(c, p, sw.code >= 400)
	})
}

// httpCall describes an HTTP request. An unmatched request is audited under its
// method and path, since it has no pattern.
//
// TODO: behind a load balancer every request comes from the balancer's address, so
// the per-address limit becomes one shared limit and audit records name the
// balancer; reading X-Forwarded-For from configured trusted proxies would fix both.
func (g *Guard) httpCall(r *http.Request) call {
	rule, pattern, alias, known := g.opts.Policy.Route(r)
	var allow string
	if !known {
		pattern = r.Method + " " + r.URL.Path
		allow = g.opts.Policy.Allowed(r)
	}
	return call{method: pattern, rule: rule, known: known, alias: alias, allow: allow,
		bearer: r.Header.Get("Authorization"), remote: hostOf(r.RemoteAddr),
		requestID: requestID(r.Header.Get(RequestIDHeader))}
}

// writeDenial is the one place a denial becomes an HTTP response.
func writeDenial(w http.ResponseWriter, d *denial, hadToken bool) {
	code, msg := http.StatusTooManyRequests, "rate limit exceeded"
	switch d.kind {
	case deniedUnauthenticated:
		code, msg = http.StatusUnauthorized, "missing or invalid bearer token"
		challenge := `Bearer realm="hydrocast"`
		if hadToken {
			challenge += `, error="invalid_token"` // RFC 6750, section 3.1
		}
		w.Header().Set("WWW-Authenticate", challenge)
	case deniedForbidden:
		code, msg = http.StatusForbidden, "not allowed for this caller"
	case deniedUnknown:
		code, msg = http.StatusNotFound, "no such path"
	case deniedUnavailable:
		code, msg = http.StatusServiceUnavailable, "cannot check tokens now"
	case deniedOverloaded:
		code, msg = http.StatusServiceUnavailable, "server busy: too many calls in flight"
	case deniedMethod:
		code, msg = http.StatusMethodNotAllowed, "method not allowed here; use "+d.allow
		w.Header().Set("Allow", d.allow)
	}
	if d.retryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(d.retryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// retryAfterSeconds rounds up to whole seconds, the header's unit, and never says 0,
// which clients would read as "retry at once".
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// statusWriter remembers the status code an audited handler answered with.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
