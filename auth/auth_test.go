package auth

import (
	"context"
	"crypto/ed25519"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/hydrocast/hydrocast/auth/audit"
	"github.com/hydrocast/hydrocast/auth/token"
)

// issuer mints test tokens that its verifier accepts.
type issuer struct {
	signer   *token.Signer
	verifier *token.KeyVerifier
}

func newIssuer(t testing.TB) issuer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := token.NewSigner(key, token.SignerOptions{})
	v, err := s.Verifier(token.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return issuer{signer: s, verifier: v}
}

// bearer returns an Authorization value for subject holding roles.
func (i issuer) bearer(t testing.TB, subject string, roles ...string) string {
	t.Helper()
	tok, err := i.signer.Issue(token.IssueRequest{Subject: subject, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

// memAudit keeps audit records in memory.
type memAudit struct {
	mu      sync.Mutex
	records []audit.Record
}

func (m *memAudit) Record(r audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = append(m.records, r)
	return nil
}

func (m *memAudit) all() []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.records)
}

// aliasRequest stands for a request message with an alias field, as protoc-gen-go
// generates GetAlias for it.
type aliasRequest struct{ alias string }

func (r aliasRequest) GetAlias() string { return r.alias }

// callUnary runs the guard's unary interceptor on method as a call from remote with
// the Authorization value bearer, and returns the handler's context, or the error.
func callUnary(g *Guard, method, bearer, remote string, req any) (context.Context, error) {
	md := metadata.MD{}
	if bearer != "" {
		md.Set("authorization", bearer)
	}
	ctx := metadata.NewIncomingContext(context.Background(), md)
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(remote),
		Port: 40000}})
	var got context.Context
	_, err := g.UnaryInterceptor()(ctx, req, &grpc.UnaryServerInfo{FullMethod: method},
		func(ctx context.Context, _ any) (any, error) {
			got = ctx
			return "ok", nil
		})
	return got, err
}

// serveHTTP runs a request through the guard's middleware over a handler that
// answers 200.
func serveHTTP(g *Guard, method, path, bearer string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if bearer != "" {
		r.Header.Set("Authorization", bearer)
	}
	w := httptest.NewRecorder()
	g.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).
		ServeHTTP(w, r)
	return w
}

func TestCheckBind(t *testing.T) {
	cases := []struct {
		addr             string
		authOn, unsafeOK bool
		ok               bool
	}{
		{"127.0.0.1:8470", false, false, true},
		{"[::1]:8470", false, false, true},
		{"localhost:8470", false, false, true},
		{"127.0.0.2:8470", false, false, true},
		{"0.0.0.0:8470", false, false, false},
		{":8470", false, false, false},
		{"[::]:8470", false, false, false},
		{"10.1.2.3:8470", false, false, false},
		{"hydrocast.internal:8470", false, false, false},
		{"0.0.0.0:8470", true, false, true},
		{"0.0.0.0:8470", false, true, true},
		{"no-port", false, false, false},
	}
	for _, tc := range cases {
		err := CheckBind(tc.addr, tc.authOn, tc.unsafeOK)
		if tc.ok != (err == nil) {
			t.Errorf("CheckBind(%q, auth %v, unsafe %v) = %v, want ok=%v", tc.addr,
				tc.authOn, tc.unsafeOK, err, tc.ok)
		}
	}
	err := CheckBind("0.0.0.0:8470", false, false)
	if !strings.Contains(err.Error(), "--insecure-allow-unauthenticated") {
		t.Errorf("message %q does not name the way out", err)
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole accepted root")
	}
}

func TestPolicyRejectsConflictingRoutes(t *testing.T) {
	_, err := NewPolicy(nil, map[string]Rule{
		"GET /v1/models/{model}": {Perm: PermRead},
		"GET /v1/models/{name}":  {Perm: PermAdmin},
	})
	if err == nil {
		t.Fatal("NewPolicy accepted two patterns for the same route")
	}
}

func TestRouteMatching(t *testing.T) {
	p := DefaultPolicy()
	cases := []struct {
		method, path string
		want, alias  string
	}{
		{"GET", "/v2/health/live", "GET /v2/health/live", ""},
		{"HEAD", "/v2/health/live", "GET /v2/health/live", ""},
		{"GET", "/v2/models/sweat-rate/versions/3/ready",
			"GET /v2/models/{model}/versions/{version}/ready", ""},
		{"PUT", "/v1/models/sweat-rate/aliases/staging",
			"PUT /v1/models/{model}/aliases/{alias}", "staging"},
		{"POST", "/v2/health/live", "", ""},
		{"GET", "/v2/models/a/b", "", ""},
		{"GET", "/v2/models/a/../../../v1/models", "", ""},
		{"GET", "/", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)

			_, pattern, alias, ok := p.Route(r)

			if pattern != tc.want || alias != tc.alias || ok != (tc.want != "") {
				t.Errorf("Route = %q, %q, %v; want %q, %q", pattern, alias, ok, tc.want,
					tc.alias)
			}
		})
	}
}

func TestAuthenticationOffRunsAsLocal(t *testing.T) {
	g := New(Options{})

	ctx, err := callUnary(g, MethodDeleteAthlete, "", "127.0.0.1", nil)
	if err != nil {
		t.Fatalf("admin-only call with authentication off: %v", err)
	}
	if p, _ := FromContext(ctx); p.Subject != LocalSubject {
		t.Errorf("principal %q, want %q", p.Subject, LocalSubject)
	}
	if _, err := callUnary(g, "/x.Unknown/Call", "", "127.0.0.1", nil); err == nil {
		t.Error("unknown method allowed with authentication off")
	}
}

func TestHandlerContext(t *testing.T) {
	iss := newIssuer(t)
	var attached string
	g := New(Options{Verifier: iss.verifier,
		AttachPrincipal: func(ctx context.Context, subject string) context.Context {
			attached = subject
			return ctx
		}})
	md := metadata.Pairs("authorization", iss.bearer(t, "coach-app", "service", "pilot"),
		RequestIDHeader, "req-42")
	ctx := metadata.NewIncomingContext(context.Background(), md)

	var got context.Context
	_, err := g.UnaryInterceptor()(ctx, nil, &grpc.UnaryServerInfo{
		FullMethod: "/hydrocast.v1.HydrocastService/Assess"},
		func(ctx context.Context, _ any) (any, error) { got = ctx; return nil, nil })
	if err != nil {
		t.Fatalf("call: %v", err)
	}

	p, ok := FromContext(got)
	if !ok || p.Subject != "coach-app" || !slices.Equal(p.Roles, []Role{RoleService}) {
		t.Errorf("principal %+v, want coach-app with role service only", p)
	}
	if attached != "coach-app" {
		t.Errorf("AttachPrincipal got %q", attached)
	}
	if id := RequestID(got); id != "req-42" {
		t.Errorf("request id %q, want the caller's req-42", id)
	}
}

func TestRequestID(t *testing.T) {
	cases := []struct {
		given string
		keep  bool
	}{
		{"req-42", true},
		{"", false},
		{"has space", false},
		{strings.Repeat("a", 129), false},
		{"nl\ninjected", false},
	}
	for _, tc := range cases {
		got := requestID(tc.given)
		if (got == tc.given) != tc.keep || got == "" {
			t.Errorf("requestID(%q) = %q, want kept=%v", tc.given, got, tc.keep)
		}
	}
}

func TestAuditRecords(t *testing.T) {
	iss := newIssuer(t)
	a := &memAudit{}
	g := New(Options{Verifier: iss.verifier, Audit: a})
	service := iss.bearer(t, "coach-app", "service")
	mlops := iss.bearer(t, "ops-1", "mlops")
	expired := "Bearer " + strings.Repeat("x", 20)

	callUnary(g, "/hydrocast.v1.HydrocastService/Assess", service, "10.0.0.1", nil)
	callUnary(g, "/hydrocast.v1.HydrocastService/Assess", expired, "10.0.0.2", nil)
	callUnary(g, MethodSetAlias, service, "10.0.0.3", aliasRequest{"production"})
	callUnary(g, MethodSetAlias, mlops, "10.0.0.4", aliasRequest{"production"})
	callUnary(g, "/x.Unknown/Call", mlops, "10.0.0.5", nil)
	serveHTTP(g, "DELETE", "/v1/athletes/a-17", iss.bearer(t, "root", "admin"))

	got := a.all()
	want := []struct{ event, principal, method, outcome string }{
		{audit.EventAuthnFailure, "", "/hydrocast.v1.HydrocastService/Assess",
			audit.OutcomeDenied},
		{audit.EventAuthzDenied, "coach-app", MethodSetAlias, audit.OutcomeDenied},
		{audit.EventCall, "ops-1", MethodSetAlias, audit.OutcomeAllowed},
		{audit.EventAuthzDenied, "ops-1", "/x.Unknown/Call", audit.OutcomeDenied},
		{audit.EventCall, "root", "DELETE /v1/athletes/{athlete}", audit.OutcomeAllowed},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		if r.Event != w.event || r.Principal != w.principal || r.Method != w.method ||
			r.Outcome != w.outcome || r.RequestID == "" || r.Remote == "" {
			t.Errorf("record %d = %+v, want %+v with remote and request id", i, r, w)
		}
		if strings.Contains(r.Reason, "xxxx") || strings.Contains(r.Method, "a-17") {
			t.Errorf("record %d repeats caller data: %+v", i, r)
		}
	}
}

func TestAuditedCallFailureIsRecorded(t *testing.T) {
	a := &memAudit{}
	g := New(Options{Audit: a})
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no such model", http.StatusNotFound)
	}))

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT",
		"/v1/models/m/traffic", nil))

	got := a.all()
	if len(got) != 1 || got[0].Outcome != audit.OutcomeFailed {
		t.Fatalf("records %+v, want one failed call", got)
	}
}

func TestAuditFileChainsGuardRecords(t *testing.T) {
	iss := newIssuer(t)
	path := t.TempDir() + "/audit.jsonl"
	log, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := New(Options{Verifier: iss.verifier, Audit: log})
	for range 5 {
		callUnary(g, MethodRollback, iss.bearer(t, "ops", "mlops"), "10.0.0.1", nil)
		callUnary(g, MethodRollback, "", "10.0.0.1", nil)
	}
	log.Close()

	n, _, err := audit.VerifyFile(path)
	if err != nil || n != 10 {
		t.Fatalf("VerifyFile = %d, %v; want 10 records, nil", n, err)
	}
}

func BenchmarkUnaryInterceptor(b *testing.B) {
	iss := newIssuer(b)
	g := New(Options{Verifier: iss.verifier})
	bearer := iss.bearer(b, "svc", "service")
	for b.Loop() {
		if _, err := callUnary(g, "/hydrocast.v1.HydrocastService/Assess", bearer,
			"10.0.0.1", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWrongMethodOnARouteIs405(t *testing.T) {
	g := New(Options{Policy: DefaultPolicy()})
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	cases := []struct {
		method, path string
		code         int
		allow        string
	}{
		{"POST", "/v2/models/sweat-rate/infer", http.StatusNoContent, ""},
		{"GET", "/v2/models/sweat-rate/infer", http.StatusMethodNotAllowed, "POST"},
		{"DELETE", "/v2/health/live", http.StatusMethodNotAllowed, "GET, HEAD"},
		// A path no route has is not found, whatever the method.
		{"GET", "/v3/secrets", http.StatusNotFound, ""},
		{"POST", "/v2/models/sweat-rate/infer/", http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.RemoteAddr = "127.0.0.1:5000"
		h.ServeHTTP(w, r)
		if w.Code != tc.code || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q; want %d, Allow %q", tc.method, tc.path, w.Code,
				w.Header().Get("Allow"), tc.code, tc.allow)
		}
	}
}
