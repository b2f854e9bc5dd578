package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/auth"
	"github.com/hydrocast/hydrocast/auth/audit"
	"github.com/hydrocast/hydrocast/auth/token"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
)

// wired is the API server exactly as serve builds it, over a store without readings
// and no models: a call the guard lets through answers with the handler's own error
// (InvalidArgument, NotFound, Unavailable) or succeeds, never with the guard's codes.
type wired struct {
	grpcAddr string
	restURL  string
	sec      *security
	home     string
}

func serveWired(t *testing.T, f securityFlags) *wired {
	t.Helper()
	home := t.TempDir()
	if f.authMode == "" {
		f.authMode = "none"
	}
	if f.authMode == "local" && f.authKey == "" {
		f.authKey = filepath.Join(home, "token.key")
		runToken(t, home, "keygen", "--key", f.authKey)
	}
	sec, err := newSecurity(t.Context(), home, &f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sec.Close() })
	srv := inference.NewServer(features.NewStore(nil), nil, sec.log)
	api, err := newAPIServer(srv, apiExtras{registry: wiredRegistry(t)}, sec,
		bareObservability(), sec.log)
	if err != nil {
		t.Fatal(err)
	}

	lis := listenLoopback(t)
	go api.grpc.Serve(lis)
	t.Cleanup(api.grpc.Stop)
	hlis := listenLoopback(t)
	hsrv := sec.httpServer(api.rest)
	scheme := "http"
	if hsrv.TLSConfig != nil {
		scheme = "https"
		go hsrv.ServeTLS(hlis, "", "")
	} else {
		go hsrv.Serve(hlis)
	}
	t.Cleanup(func() { hsrv.Close() })
	return &wired{grpcAddr: lis.Addr().String(), restURL: scheme + "://" +
		hlis.Addr().String(), sec: sec, home: home}
}

// wiredRegistry opens an empty registry for the wired server's RegistryService.
func wiredRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	reg, err := local.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// runToken runs `hydrocast token args…` with home as the state folder and returns
// its output without the trailing newline.
func runToken(t *testing.T, home string, args ...string) string {
	t.Helper()
	cmd := newTokenCommand(&globals{home: home})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("hydrocast token %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(out.String())
}

func dialPlain(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// invoke calls method with an empty request message, whatever its kind, and returns
// the call's error: the first response message, or the status the call ended with.
func invokeGuarded(ctx context.Context, conn *grpc.ClientConn, method, bearer string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if bearer != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+bearer)
	}
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true,
		ServerStreams: true}, method)
	if err != nil {
		return err
	}
	if err := s.SendMsg(&emptypb.Empty{}); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	return s.RecvMsg(&emptypb.Empty{})
}

// guardCodes are the codes only the guard answers with here.
var guardCodes = []codes.Code{codes.Unauthenticated, codes.PermissionDenied,
	codes.ResourceExhausted}

// servedMatrix is the least role of every method serve registers, written out by hand
// so that a change to the policy or the served services shows as a failing cell.
var servedMatrix = func() map[string][]auth.Role {
	service := []auth.Role{auth.RoleService, auth.RoleAdmin}
	var open []auth.Role // nil: no token needed
	return map[string][]auth.Role{
		"/hydrocast.v1.HydrocastService/Ingest":        service,
		"/hydrocast.v1.HydrocastService/Assess":        service,
		"/hydrocast.v1.HydrocastService/AssessBatch":   service,
		"/hydrocast.v1.HydrocastService/RecordOutcome": service,
		"/hydrocast.v1.RegistryService/UploadModel": {auth.RoleDataScientist,
			auth.RoleAdmin},
		"/hydrocast.v1.RegistryService/ListModels":                       auth.Roles(),
		"/hydrocast.v1.RegistryService/GetVersion":                       auth.Roles(),
		"/hydrocast.v1.RegistryService/WatchRegistry":                    auth.Roles(),
		"/inference.GRPCInferenceService/ModelInfer":                     service,
		"/inference.GRPCInferenceService/ModelReady":                     auth.Roles(),
		"/inference.GRPCInferenceService/ModelMetadata":                  auth.Roles(),
		"/inference.GRPCInferenceService/ServerMetadata":                 auth.Roles(),
		"/inference.GRPCInferenceService/ServerLive":                     open,
		"/inference.GRPCInferenceService/ServerReady":                    open,
		"/grpc.health.v1.Health/Check":                                   open,
		"/grpc.health.v1.Health/List":                                    open,
		"/grpc.health.v1.Health/Watch":                                   open,
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      open,
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": open,
	}
}()

// TestServedRoleMatrix walks every method the wired server serves with a real token
// of each role, one of no known role and none, over gRPC on loopback.
func TestServedRoleMatrix(t *testing.T) {
	w := serveWired(t, securityFlags{authMode: "local", rate: 0, addrRate: 0})
	conn := dialPlain(t, w.grpcAddr)
	tokens := map[string]string{"no token": "",
		"unknown role": signLocal(t, w, "x-1", "superuser")}
	for _, r := range auth.Roles() {
		tokens[string(r)] = issueLocal(t, w, "p-"+string(r), string(r))
	}

	served := servedMethods(t, w)
	for _, m := range served {
		allowed, ok := servedMatrix[m]
		if !ok {
			t.Errorf("served method %s has no row in servedMatrix", m)
			continue
		}
		for col, tok := range tokens {
			t.Run(m+"/"+col, func(t *testing.T) {
				err := invokeGuarded(t.Context(), conn, m, tok)
				open := allowed == nil
				want := open || slices.Contains(allowed, auth.Role(col))
				got := !slices.Contains(guardCodes, status.Code(err))
				if want != got {
					t.Fatalf("error %v; want allowed=%v", err, want)
				}
				if !want && tok == "" && status.Code(err) != codes.Unauthenticated {
					t.Errorf("no token: %v, want Unauthenticated", err)
				}
				if !want && tok != "" && status.Code(err) != codes.PermissionDenied {
					t.Errorf("token without the role: %v, want PermissionDenied", err)
				}
			})
		}
	}
	for m := range servedMatrix {
		if !slices.Contains(served, m) {
			t.Errorf("servedMatrix names %s, which serve does not serve", m)
		}
	}

	// Every failure of a call without a token is in the audit trail, chained.
	if err := w.sec.audit.Close(); err != nil {
		t.Fatal(err)
	}
	n, _, err := audit.VerifyFile(filepath.Join(w.home, "audit", "auth.jsonl"))
	if err != nil || n == 0 {
		t.Fatalf("audit file: %d records, %v; want the failures, chained", n, err)
	}
}

func issueLocal(t *testing.T, w *wired, subject, role string) string {
	return runToken(t, w.home, "issue", "--key", filepath.Join(w.home, "token.key"),
		"--subject", subject, "--role", role, "--ttl", "10m")
}

// signLocal mints a token with the key directly, for roles the command refuses.
func signLocal(t *testing.T, w *wired, subject string, roles ...string) string {
	t.Helper()
	key, err := token.LoadKey(filepath.Join(w.home, "token.key"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.NewSigner(key, token.SignerOptions{}).Issue(token.IssueRequest{
		Subject: subject, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func servedMethods(t *testing.T, w *wired) []string {
	t.Helper()
	srv := inference.NewServer(features.NewStore(nil), nil, w.sec.log)
	api, err := newAPIServer(srv, apiExtras{registry: wiredRegistry(t)}, w.sec,
		bareObservability(), w.sec.log)
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for svc, info := range api.grpc.GetServiceInfo() {
		for _, m := range info.Methods {
			methods = append(methods, "/"+svc+"/"+m.Name)
		}
	}
	slices.Sort(methods)
	return methods
}

// TestServedRESTMatrix walks the REST twin's routes with the same tokens.
func TestServedRESTMatrix(t *testing.T) {
	w := serveWired(t, securityFlags{authMode: "local"})
	service := issueLocal(t, w, "s1", "service")
	researcher := issueLocal(t, w, "r1", "researcher")
	cases := []struct {
		verb, path, bearer string
		allowed            bool
	}{
		{"GET", "/v2/health/live", "", true},
		{"GET", "/v2/health/ready", "", true},
		{"GET", "/v2", "", false},
		{"GET", "/v2", researcher, true},
		{"GET", "/v2/models/sweat-rate", researcher, true},
		{"POST", "/v2/models/sweat-rate/infer", "", false},
		{"POST", "/v2/models/sweat-rate/infer", researcher, false},
		{"POST", "/v2/models/sweat-rate/infer", service, true},
		{"GET", "/v3/secrets", service, false},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.verb, w.restURL+tc.path, strings.NewReader("{}"))
		if tc.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+tc.bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		denied := resp.StatusCode == http.StatusUnauthorized ||
			resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound
		if denied == tc.allowed {
			t.Errorf("%s %s (token %v): %d, want allowed=%v", tc.verb, tc.path,
				tc.bearer != "", resp.StatusCode, tc.allowed)
		}
	}
}

func TestServedRateLimitsCarryRetryHints(t *testing.T) {
	// One call per 100 s and a burst of 1: the second call is refused, whatever the
	// machine's speed.
	w := serveWired(t, securityFlags{authMode: "local", rate: 0.01, ratesSet: true})
	conn := dialPlain(t, w.grpcAddr)
	tok := issueLocal(t, w, "s1", "service")
	method := "/hydrocast.v1.HydrocastService/Assess"

	if err := invokeGuarded(t.Context(), conn, method, tok); status.Code(err) !=
		codes.InvalidArgument {
		t.Fatalf("first call: %v, want the handler's InvalidArgument", err)
	}
	err := invokeGuarded(t.Context(), conn, method, tok)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second call: %v, want ResourceExhausted", err)
	}
	var hint time.Duration
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			hint = ri.GetRetryDelay().AsDuration()
		}
	}
	if hint < 50*time.Second || hint > 100*time.Second {
		t.Errorf("retry hint %v, want the bucket's refill time, 50–100 s", hint)
	}

	req, _ := http.NewRequest("POST", w.restURL+"/v2/models/m/infer", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("REST call over the limit: %d, Retry-After %q; want 429 with a hint",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestServeBindRules(t *testing.T) {
	cases := []struct {
		flags securityFlags
		addr  string
		ok    bool
	}{
		{securityFlags{authMode: "none"}, "127.0.0.1:0", true},
		{securityFlags{authMode: "none"}, "0.0.0.0:8470", false},
		{securityFlags{authMode: "none", insecure: true}, "0.0.0.0:8470", true},
		{securityFlags{authMode: "local"}, "0.0.0.0:8470", true},
		{securityFlags{authMode: "oidc"}, ":8470", true},
	}
	for _, tc := range cases {
		err := tc.flags.checkBind(tc.addr, "")
		if (err == nil) != tc.ok {
			t.Errorf("--auth %s, unsafe %v, %s: %v, want ok=%v", tc.flags.authMode,
				tc.flags.insecure, tc.addr, err, tc.ok)
		}
	}
}

func TestServeSecurityFlagErrorsNameTheFlag(t *testing.T) {
	home := t.TempDir()
	cases := []struct {
		flags securityFlags
		want  string
	}{
		{securityFlags{authMode: "magic"}, "--auth"},
		{securityFlags{authMode: "local", authKey: filepath.Join(home, "nope")}, "--auth-key"},
		{securityFlags{authMode: "oidc"}, "--oidc-issuer"},
		{securityFlags{authMode: "none", tlsCert: "c.pem"}, "--tls-key"},
		{securityFlags{authMode: "none", tlsClientCA: "ca.pem"}, "--tls-cert"},
	}
	for _, tc := range cases {
		_, err := newSecurity(t.Context(), home, &tc.flags, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.flags, err, tc.want)
		}
	}
}

func TestServeLogsPseudonymsNotAthleteIDs(t *testing.T) {
	home := t.TempDir()
	var buf bytes.Buffer
	f := securityFlags{authMode: "none"}
	sec, err := newSecurity(t.Context(), home, &f, slog.New(slog.NewJSONHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sec.Close()

	sec.log.With("athlete_id", "athlete-jane-doe").Info("assess")
	sec.log.Warn("ingest", slog.Group("reading", "athlete_id", "athlete-john-doe"))

	if strings.Contains(buf.String(), "jane-doe") || strings.Contains(buf.String(), "john-doe") {
		t.Fatalf("log carries a raw athlete id:\n%s", buf.String())
	}
	first := buf.String()

	// The key persists in home, so pseudonyms survive a restart.
	buf.Reset()
	sec2, err := newSecurity(t.Context(), home, &f, slog.New(slog.NewJSONHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sec2.Close()
	sec2.log.With("athlete_id", "athlete-jane-doe").Info("assess")
	if line := strings.SplitN(first, "\n", 2)[0]; !sameAthleteAttr(line, buf.String()) {
		t.Errorf("pseudonym changed across restarts:\n%s\n%s", line, buf.String())
	}
}

func sameAthleteAttr(a, b string) bool {
	pick := func(s string) string {
		_, rest, _ := strings.Cut(s, `"athlete_id":"`)
		v, _, _ := strings.Cut(rest, `"`)
		return v
	}
	return pick(a) != "" && pick(a) == pick(b)
}

// pki is a test certificate authority with files for a server and a client.
type pki struct {
	dir    string
	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject: pkix.Name{CommonName: "hydrocast test CA"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), caKey: key, caCert: cert}
	writePEM(t, p.path("ca.pem"), "CERTIFICATE", der)
	return p
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// issue writes name.pem and name-key.pem: a certificate for 127.0.0.1 with serial.
func (p *pki) issue(t *testing.T, name string, serial int64, server bool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial),
		Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	writePEM(t, p.path(name+"-key.pem"), "PRIVATE KEY", keyDER)
	writePEM(t, p.path(name+".pem"), "CERTIFICATE", der)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientTLS returns a TLS 1.3 client configuration trusting the test CA, with the
// client certificate when withCert.
func (p *pki) clientTLS(t *testing.T, withCert bool) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	if withCert {
		cert, err := tls.LoadX509KeyPair(p.path("client.pem"), p.path("client-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

func tlsHealthCheck(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func TestServedMutualTLSAndCertificateReload(t *testing.T) {
	p := newPKI(t)
	p.issue(t, "server", 100, true)
	p.issue(t, "client", 200, false)
	w := serveWired(t, securityFlags{authMode: "none", tlsCert: p.path("server.pem"),
		tlsKey: p.path("server-key.pem"), tlsClientCA: p.path("ca.pem")})

	if err := tlsHealthCheck(t, w.grpcAddr, p.clientTLS(t, true)); err != nil {
		t.Fatalf("client with a certificate: %v", err)
	}
	if err := tlsHealthCheck(t, w.grpcAddr, p.clientTLS(t, false)); err == nil {
		t.Fatal("client without a certificate was served")
	}
	if _, err := tls.Dial("tcp", w.grpcAddr, &tls.Config{RootCAs: p.clientTLS(t, true).RootCAs,
		Certificates: p.clientTLS(t, true).Certificates, MaxVersion: tls.VersionTLS12,
		NextProtos: []string{"h2"}}); err == nil {
		t.Error("a TLS 1.2 handshake succeeded; want TLS 1.3 only")
	}
	resp, err := (&http.Client{Transport: &http.Transport{
		TLSClientConfig: p.clientTLS(t, false)}}).Get(w.restURL + "/v2/health/live")
	if err == nil {
		resp.Body.Close()
		t.Error("REST client without a certificate was served")
	}
	resp, err = (&http.Client{Transport: &http.Transport{
		TLSClientConfig: p.clientTLS(t, true)}}).Get(w.restURL + "/v2/health/live")
	if err != nil {
		t.Fatalf("REST client with a certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil ||
		resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("REST over mutual TLS: %d, TLS %+v; want 200 over TLS 1.3", resp.StatusCode,
			resp.TLS)
	}

	// Rotate the server certificate in place: the next handshake presents it.
	p.issue(t, "server", 101, true)
	if changed, err := w.sec.tls.Reload(); err != nil || !changed {
		t.Fatalf("reload: changed=%v, %v", changed, err)
	}
	conn, err := tls.Dial("tcp", w.grpcAddr, p.clientTLS(t, true))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); got != 101 {
		t.Errorf("served certificate serial %d after the reload, want 101", got)
	}
	if err := tlsHealthCheck(t, w.grpcAddr, p.clientTLS(t, true)); err != nil {
		t.Errorf("call after the reload: %v", err)
	}
}

func TestTokenCommandRefusals(t *testing.T) {
	home := t.TempDir()
	key := filepath.Join(home, "k.pem")
	runToken(t, home, "keygen", "--key", key)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"keygen", "--key", key}, "exists"},
		{[]string{"issue", "--key", key, "--role", "service"}, "--subject"},
		{[]string{"issue", "--key", key, "--subject", "s"}, "--role"},
		{[]string{"issue", "--key", key, "--subject", "s", "--role", "root"}, "--role"},
		{[]string{"issue", "--key", key, "--subject", "s", "--role", "service",
			"--ttl", "-1h"}, "--ttl"},
		{[]string{"issue", "--key", filepath.Join(home, "nope"), "--subject", "s",
			"--role", "service"}, "keygen"},
	}
	for _, tc := range cases {
		cmd := newTokenCommand(&globals{home: home})
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(tc.args)
		err := cmd.ExecuteContext(t.Context())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("token %v: %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
}

// TestServedBinaryChecksTokens runs the real binary with --auth local and checks the
// role rules, the open health check and the audit trail from outside the process.
func TestServedBinaryChecksTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	home, _ := faultModelHome(t)
	runToken(t, home, "keygen")
	srv := startFaultServer(t, home, "--auth", "local")
	conn := dialPlain(t, srv.addr)
	issue := func(role string) string {
		return runToken(t, home, "issue", "--subject", "bin-"+role, "--role", role)
	}
	assess := "/hydrocast.v1.HydrocastService/Assess"
	cases := []struct {
		name, method, token string
		want                codes.Code
	}{
		{"no token", assess, "", codes.Unauthenticated},
		{"forged token", assess, "e30.e30.c2ln", codes.Unauthenticated},
		{"researcher", assess, issue("researcher"), codes.PermissionDenied},
		{"service", assess, issue("service"), codes.InvalidArgument}, // empty athlete id
		{"health without token", "/grpc.health.v1.Health/Check", "", codes.OK},
	}
	for _, tc := range cases {
		got := status.Code(invokeGuarded(t.Context(), conn, tc.method, tc.token))
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// The client commands reach it with --token, and are refused without.
	fit := writeFITFile(t, t.TempDir(), 10)
	importTo := func(extra ...string) error {
		args := append([]string{fit, "--athlete", "a-1", "--to", "server", "--server",
			srv.addr}, extra...)
		_, _, err := runSub(t, t.TempDir(), newImportCommand, args...)
		return err
	}
	if err := importTo(); err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
		t.Errorf("import without --token: %v, want Unauthenticated", err)
	}
	if err := importTo("--token", issue("service")); err != nil {
		t.Errorf("import with a service token: %v", err)
	}

	srv.stop()
	n, _, err := audit.VerifyFile(filepath.Join(home, "audit", "auth.jsonl"))
	if err != nil || n != 4 {
		t.Errorf("audit file: %d records, %v; want the 4 refusals, chained", n, err)
	}
	if strings.Contains(srv.log.String(), "c2ln") {
		t.Error("the server log repeats a token")
	}
}

// TestServedOIDC wires --auth oidc to a provider on loopback that publishes a
// discovery document and its key set, and checks its tokens' roles are enforced.
func TestServedOIDC(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	provider := httptest.NewServer(mux)
	defer provider.Close()
	signer := token.NewSigner(key, token.SignerOptions{Issuer: provider.URL,
		Audience: "hydrocast-test"})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter,
		_ *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, provider.URL, provider.URL+"/jwks")
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Write(signer.JWKS())
	})

	w := serveWired(t, securityFlags{authMode: "oidc", oidcIssuer: provider.URL,
		oidcAudience: "hydrocast-test", rolesClaim: "roles"})
	conn := dialPlain(t, w.grpcAddr)
	issue := func(role string) string {
		tok, err := signer.Issue(token.IssueRequest{Subject: "idp-" + role,
			Roles: []string{role}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	assess := "/hydrocast.v1.HydrocastService/Assess"
	if err := invokeGuarded(t.Context(), conn, assess, issue("service")); status.Code(err) !=
		codes.InvalidArgument {
		t.Errorf("service token from the provider: %v, want the handler's InvalidArgument",
			err)
	}
	if err := invokeGuarded(t.Context(), conn, assess, issue("researcher")); status.Code(err) !=
		codes.PermissionDenied {
		t.Errorf("researcher token from the provider: %v, want PermissionDenied", err)
	}
	local := signLocalWith(t, "service")
	if err := invokeGuarded(t.Context(), conn, assess, local); status.Code(err) !=
		codes.Unauthenticated {
		t.Errorf("token of another key: %v, want Unauthenticated", err)
	}
}

// signLocalWith mints a token with a fresh local key, which no server trusts.
func signLocalWith(t *testing.T, role string) string {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	tok, err := token.NewSigner(key, token.SignerOptions{}).Issue(token.IssueRequest{
		Subject: "stranger", Roles: []string{role}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bareObservability measures into a fresh registry, without tracing or batching.
func bareObservability() *observability {
	return &observability{metrics: prometheus.NewRegistry()}
}

func TestServeRefusesMeaninglessFlags(t *testing.T) {
	for _, c := range [][]string{
		{"--reload-interval", "0"}, {"--shutdown-timeout", "-1s"},
		{"--max-inflight", "-1"}, {"--rate-limit", "-5"},
		{"--rate-limit-per-address", "-1"}, {"--tls-reload-interval", "-1s"},
	} {
		_, _, err := runSub(t, t.TempDir(), newServeCommand, c...)
		if err == nil || !strings.Contains(err.Error(), c[0]) {
			t.Errorf("serve %s: %v, want an error naming the flag", strings.Join(c, " "), err)
		}
	}
}

func TestWriteFileAtomicRefusesAFolder(t *testing.T) {
	dir := t.TempDir()
	err := writeFileAtomic(dir, []byte("report"))
	if err == nil || !strings.Contains(err.Error(), "folder") {
		t.Errorf("write to a folder: %v, want an error saying it is a folder", err)
	}
	if _, err := os.Stat(dir + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("a temporary file was left beside the folder: %v", err)
	}
}

// A client command calling a TLS server in plain text is told to pass --tls-ca, for a
// unary call and a stream alike; with the CA it is served.
func TestPlaintextClientToTLSServerIsToldOfTLSCA(t *testing.T) {
	p := newPKI(t)
	p.issue(t, "server", 100, true)
	w := serveWired(t, securityFlags{authMode: "none", tlsCert: p.path("server.pem"),
		tlsKey: p.path("server-key.pem")})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	plain, err := (&clientFlags{}).dial(w.grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_, err = healthpb.NewHealthClient(plain).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "--tls-ca") {
		t.Errorf("unary call in plain text: %v, want Unavailable naming --tls-ca", err)
	}
	stream, err := hydrocastv1.NewHydrocastServiceClient(plain).Ingest(ctx)
	if err == nil {
		_, err = stream.CloseAndRecv()
	}
	if !strings.Contains(fmt.Sprint(err), "--tls-ca") {
		t.Errorf("stream in plain text: %v, want an error naming --tls-ca", err)
	}

	// replay says so too, without claiming to have replayed anything.
	_, errOut, err := runSub(t, t.TempDir(), newReplayCommand,
		writeFITFile(t, t.TempDir(), 5), "--athlete", "a-1", "--server", w.grpcAddr)
	if err == nil || !strings.Contains(err.Error(), "--tls-ca") ||
		strings.Contains(errOut, "replayed") {
		t.Errorf("replay in plain text: %v, printed %q; want an error naming --tls-ca "+
			"and no count of readings replayed", err, errOut)
	}

	// A plain HTTP/1.1 port given by mistake is not taken for TLS.
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	wrongPort, err := (&clientFlags{}).dial(strings.TrimPrefix(web.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer wrongPort.Close()
	_, err = healthpb.NewHealthClient(wrongPort).Check(ctx, &healthpb.HealthCheckRequest{})
	if err == nil || strings.Contains(err.Error(), "--tls-ca") {
		t.Errorf("plain text to the REST port: %v, want an error without the TLS hint", err)
	}

	secure, err := (&clientFlags{tlsCA: p.path("ca.pem")}).dial(w.grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer secure.Close()
	if _, err := healthpb.NewHealthClient(secure).Check(ctx,
		&healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("with --tls-ca: %v", err)
	}
}
