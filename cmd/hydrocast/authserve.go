package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/hydrocast/hydrocast/auth"
	"github.com/hydrocast/hydrocast/auth/audit"
	"github.com/hydrocast/hydrocast/auth/pseudonym"
	"github.com/hydrocast/hydrocast/auth/ratelimit"
	"github.com/hydrocast/hydrocast/auth/tlsconfig"
	"github.com/hydrocast/hydrocast/auth/token"
	"github.com/hydrocast/hydrocast/registry"
)

// securityFlags are serve's flags for TLS, authentication, limits, audit and
// pseudonyms.
type securityFlags struct {
	insecure     bool
	tlsCert      string
	tlsKey       string
	tlsClientCA  string
	tlsReload    time.Duration
	authMode     string
	authKey      string
	oidcIssuer   string
	oidcAudience string
	rolesClaim   string
	rate         float64
	addrRate     float64
	ratesSet     bool // a rate flag was given; otherwise --auth none runs unlimited
	maxInflight  int
	pseudonymKey string
}

// register adds the flags to fl.
func (f *securityFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&f.insecure, "insecure-allow-unauthenticated", false, "UNSAFE: serve "+
		"athletes' data without authentication on an address other machines can reach")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate chain of the server; "+
		"turns on TLS 1.3 for gRPC and REST (with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVar(&f.tlsClientCA, "tls-client-ca", "", "PEM authorities of client "+
		"certificates: mutual TLS, clients without a certificate they signed are refused")
	fl.DurationVar(&f.tlsReload, "tls-reload-interval", 10*time.Second, "how often "+
		"the TLS files are read again; a rotated certificate serves without a restart")
	fl.StringVar(&f.authMode, "auth", "none", "caller authentication `mode`: none "+
		"(loopback only), local (tokens of --auth-key, from hydrocast token issue) or oidc")
	fl.StringVar(&f.authKey, "auth-key", "", "Ed25519 key `file` of --auth local; "+
		"default <home>/secrets/token.key, made by hydrocast token keygen")
	fl.StringVar(&f.oidcIssuer, "oidc-issuer", "", "issuer URL of --auth oidc; its "+
		"discovery document names the signing keys")
	fl.StringVar(&f.oidcAudience, "oidc-audience", "", "audience (client id) tokens of "+
		"--auth oidc must carry")
	fl.StringVar(&f.rolesClaim, "oidc-roles-claim", "roles", "claim holding the roles "+
		"of --auth oidc tokens; dots walk into objects (realm_access.roles)")
	fl.Float64Var(&f.rate, "rate-limit", 200, "calls per second one principal may make "+
		"(bursts of twice that); 0 turns the limit off. With --auth none, where every "+
		"caller is this machine's user, the limits apply only when set")
	fl.Float64Var(&f.addrRate, "rate-limit-per-address", 1000, "calls per second one "+
		"remote address may make, checked before any token; 0 turns the limit off")
	fl.IntVar(&f.maxInflight, "max-inflight", 512, "calls handled at once; more are "+
		"refused at once with RESOURCE_EXHAUSTED (HTTP 503) and a retry hint; 0: no bound")
	fl.StringVar(&f.pseudonymKey, "pseudonym-key", "", "key file of the keyed hash that "+
		"replaces athlete ids in logs; default <home>/secrets/pseudonym.key, made if absent")
}

// security is what serve's listeners take from the security flags: the guard, TLS
// and the logger that pseudonymises athlete ids.
type security struct {
	guard *auth.Guard
	tls   *tlsconfig.Reloader // nil without --tls-cert
	audit *audit.Log
	log   *slog.Logger
	// pseudonyms replaces athlete ids in logs; pseudonymize wraps other logs with it.
	pseudonyms *pseudonym.Pseudonymizer
}

// pseudonymize returns h with athlete ids replaced by their pseudonyms, as in the
// server's own log.
func (s *security) pseudonymize(h slog.Handler) slog.Handler {
	return pseudonym.NewHandler(h, s.pseudonyms)
}

// checkBind refuses addresses other machines can reach while authentication is off.
func (f *securityFlags) checkBind(addrs ...string) error {
	for _, addr := range addrs {
		if addr == "" {
			continue
		}
		if err := auth.CheckBind(addr, f.authMode != "none", f.insecure); err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	return nil
}

// newSecurity builds the security layer the flags describe. log is wrapped so that
// athlete ids reach it as pseudonyms; the returned security's log is that wrapper.
func newSecurity(ctx context.Context, home string, f *securityFlags,
	log *slog.Logger) (*security, error) {
	p, err := loadPseudonymizer(home, f.pseudonymKey)
	if err != nil {
		return nil, err
	}
	log = slog.New(pseudonym.NewHandler(log.Handler(), p))

	verifier, err := newVerifier(ctx, home, f)
	if err != nil {
		return nil, err
	}
	s := &security{log: log, pseudonyms: p}
	if f.tlsCert != "" || f.tlsKey != "" || f.tlsClientCA != "" {
		if f.tlsCert == "" || f.tlsKey == "" {
			return nil, errors.New("--tls-cert and --tls-key go together " +
				"(--tls-client-ca needs both)")
		}
		s.tls, err = tlsconfig.New(tlsconfig.Options{CertFile: f.tlsCert,
			KeyFile: f.tlsKey, ClientCAFile: f.tlsClientCA, ReloadInterval: f.tlsReload,
			Logger: log})
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
	}
	if s.audit, err = openAudit(filepath.Join(home, "audit", "auth.jsonl"), log); err != nil {
		return nil, err
	}
	rate, addrRate := f.rate, f.addrRate
	if verifier == nil && !f.ratesSet {
		rate, addrRate = 0, 0
	}
	if verifier == nil && f.insecure {
		log.Warn("serving without authentication on every address it listens on: " +
			"anyone who reaches the port reads and changes athletes' data")
	}
	s.guard = auth.New(auth.Options{
		Verifier:        verifier,
		PrincipalLimit:  ratelimit.New(ratelimit.Options{Rate: rate, Burst: burst(rate)}),
		AddressLimit:    ratelimit.New(ratelimit.Options{Rate: addrRate}),
		Inflight:        ratelimit.NewGate(f.maxInflight),
		Audit:           s.audit,
		AttachPrincipal: registry.WithPrincipal,
		Logger:          log,
	})
	return s, nil
}

// burst lets a principal make twice its per-second rate at once, so that a client
// catching up after a pause is not refused.
func burst(rate float64) int {
	return max(1, int(2*rate))
}

// newVerifier returns the token verifier of --auth, nil for none.
func newVerifier(ctx context.Context, home string, f *securityFlags) (token.Verifier,
	error) {
	switch f.authMode {
	case "none":
		if f.authKey != "" || f.oidcIssuer != "" {
			return nil, errors.New("--auth-key and --oidc-issuer need --auth local or oidc")
		}
		return nil, nil
	case "local":
		key, err := token.LoadKey(keyPath(home, f.authKey))
		if err != nil {
			return nil, fmt.Errorf("--auth-key: %w (make one with hydrocast token keygen)",
				err)
		}
		return token.NewSigner(key, token.SignerOptions{}).Verifier(token.VerifyOptions{})
	case "oidc":
		if f.oidcIssuer == "" || f.oidcAudience == "" {
			return nil, errors.New("--auth oidc needs --oidc-issuer and --oidc-audience")
		}
		v, err := token.NewOIDC(ctx, token.OIDCOptions{Issuer: f.oidcIssuer,
			Audience: f.oidcAudience, RolesClaim: f.rolesClaim})
		if err != nil {
			return nil, fmt.Errorf("--oidc-issuer %s: %w", f.oidcIssuer, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("--auth %q: want none, local or oidc", f.authMode)
}

// keyPath returns the token key file: the flag's, or the default in home.
func keyPath(home, flag string) string {
	if flag != "" {
		return flag
	}
	return filepath.Join(home, "secrets", "token.key")
}

// loadPseudonymizer reads the pseudonym key, creating a random one the first time so
// that pseudonyms stay the same across restarts.
func loadPseudonymizer(home, path string) (*pseudonym.Pseudonymizer, error) {
	if path == "" {
		path = filepath.Join(home, "secrets", "pseudonym.key")
	}
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = pseudonym.GenerateKey()
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = writeSecretFile(path, key)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("--pseudonym-key: %w", err)
	}
	p, err := pseudonym.New(key)
	if err != nil {
		return nil, fmt.Errorf("--pseudonym-key %s: %w", path, err)
	}
	return p, nil
}

// writeSecretFile creates path with mode 0600; it fails when path exists, so a key
// is never overwritten.
func writeSecretFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// openAudit opens the audit file of authentication failures. A file whose last
// line a crash cut short is moved aside, kept for inspection, and a new chain starts.
func openAudit(path string, log *slog.Logger) (*audit.Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create audit folder: %w", err)
	}
	l, err := audit.Open(path, audit.Options{SyncEvery: 100 * time.Millisecond})
	if errors.Is(err, audit.ErrTornTail) {
		aside := fmt.Sprintf("%s.torn-%d", path, time.Now().Unix())
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("move torn audit file aside: %w", rerr)
		}
		log.Warn("audit file ended in a torn line; moved aside, new chain started",
			"moved_to", aside)
		l, err = audit.Open(path, audit.Options{SyncEvery: 100 * time.Millisecond})
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// grpcOptions returns the server options of TLS and the guard's interceptors, which
// run first so that nothing else runs for a refused call.
func (s *security) grpcOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.guard.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(s.guard.StreamInterceptor()),
	}
	if s.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls.ServerConfig())))
	}
	return opts
}

// httpServer returns the REST server of h behind the guard, with TLS when on.
func (s *security) httpServer(h http.Handler) *http.Server {
	srv := &http.Server{Handler: s.guard.Middleware(h), ReadHeaderTimeout: 10 * time.Second,
		// Failed handshakes and the like: worth a debug line, not stderr noise.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	if s.tls != nil {
		srv.TLSConfig = s.tls.ServerConfig()
	}
	return srv
}

// run reloads the TLS files until ctx ends.
func (s *security) run(ctx context.Context) {
	if s.tls != nil {
		_ = s.tls.Run(ctx)
	}
}

// Close flushes and closes the audit file.
func (s *security) Close() error {
	return s.audit.Close()
}
