package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clock is a settable time source shared by token minting and verification.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testKey is a provider's signing key with its published JWK.
type testKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
	jwk    map[string]string
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newEd25519Key(t testing.TB, kid string) testKey {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, method: jwt.SigningMethodEdDSA, priv: priv,
		jwk: map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(pub)}}
}

func newECKey(t testing.TB, kid string) testKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, _ := priv.PublicKey.Bytes()
	return testKey{kid: kid, method: jwt.SigningMethodES256, priv: priv,
		jwk: map[string]string{"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
			"x": b64(point[1:33]), "y": b64(point[33:])}}
}

var (
	rsaOnce sync.Once
	rsaPriv *rsa.PrivateKey
)

// newRSAKey reuses one 2048-bit key: generating one takes a noticeable time.
func newRSAKey(t testing.TB, kid string) testKey {
	rsaOnce.Do(func() { rsaPriv, _ = rsa.GenerateKey(rand.Reader, 2048) })
	e := []byte{1, 0, 1}
	return testKey{kid: kid, method: jwt.SigningMethodRS256, priv: rsaPriv,
		jwk: map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256",
			"n": b64(rsaPriv.N.Bytes()), "e": b64(e)}}
}

// sign mints a token with k; claims are merged over valid defaults for issuer iss.
func (k testKey) sign(t testing.TB, now time.Time, iss string, over jwt.MapClaims) string {
	t.Helper()
	claims := jwt.MapClaims{"iss": iss, "aud": "hydrocast-api", "sub": "coach-app",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": []string{"service"}}
	for name, v := range over {
		if v == nil {
			delete(claims, name)
			continue
		}
		claims[name] = v
	}
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// provider is an OpenID Connect provider's discovery and key endpoints.
type provider struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []testKey // guarded by mu
	down    bool      // guarded by mu
	fetches atomic.Int32
}

func newProvider(t *testing.T, keys ...testKey) *provider {
	p := &provider{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter,
		_ *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": p.srv.URL,
			"jwks_uri": p.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var set []map[string]string
		for _, k := range p.keys {
			set = append(set, k.jwk)
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": set})
	})
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) publish(keys ...testKey) {
	p.mu.Lock()
	p.keys, p.down = keys, false
	p.mu.Unlock()
}

func (p *provider) setDown() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
}

func (p *provider) verifier(t *testing.T, c *clock, opts OIDCOptions) *OIDC {
	t.Helper()
	opts.Issuer, opts.Audience = p.srv.URL, "hydrocast-api"
	opts.HTTPClient, opts.Now = p.srv.Client(), c.now
	v, err := NewOIDC(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return v
}

func TestOIDCVerify(t *testing.T) {
	rsaKey, ecKey, edKey := newRSAKey(t, "r1"), newECKey(t, "e1"), newEd25519Key(t, "d1")
	p := newProvider(t, rsaKey, ecKey, edKey)
	c := newClock()
	v := p.verifier(t, c, OIDCOptions{})
	now, iss := c.now(), p.srv.URL
	stranger := newEd25519Key(t, "d1") // same kid as a published key, other key

	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RSA", rsaKey.sign(t, now, iss, nil), true},
		{"EC", ecKey.sign(t, now, iss, nil), true},
		{"Ed25519", edKey.sign(t, now, iss, nil), true},
		{"expired within leeway", edKey.sign(t, now, iss,
			jwt.MapClaims{"exp": now.Add(-10 * time.Second).Unix()}), true},
		{"expired", edKey.sign(t, now, iss,
			jwt.MapClaims{"exp": now.Add(-2 * time.Minute).Unix()}), false},
		{"no expiry", edKey.sign(t, now, iss, jwt.MapClaims{"exp": nil}), false},
		{"not yet valid", edKey.sign(t, now, iss,
			jwt.MapClaims{"nbf": now.Add(5 * time.Minute).Unix()}), false},
		{"issued in the future", edKey.sign(t, now, iss,
			jwt.MapClaims{"iat": now.Add(5 * time.Minute).Unix()}), false},
		{"other issuer", edKey.sign(t, now, "https://evil.example", nil), false},
		{"other audience", edKey.sign(t, now, iss, jwt.MapClaims{"aud": "other"}), false},
		{"no subject", edKey.sign(t, now, iss, jwt.MapClaims{"sub": nil}), false},
		{"wrong key, known kid", stranger.sign(t, now, iss, nil), false},
		{"unsigned", unsigned(t, iss, now), false},
		{"HMAC keyed with the public key", hmacWithPublicKey(t, iss, now, rsaKey), false},
		{"EC algorithm on the RSA key", algOnOtherKey(t, iss, now, rsaKey), false},
		{"too long", edKey.sign(t, now, iss,
			jwt.MapClaims{"pad": strings.Repeat("x", 9000)}), false},
		{"garbage", "not.a.token", false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := v.Verify(t.Context(), tc.token)

			if tc.ok != (err == nil) {
				t.Fatalf("Verify error = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %v does not wrap ErrInvalidToken", err)
			}
			if tc.ok && (claims.Subject != "coach-app" ||
				!slices.Equal(claims.Roles, []string{"service"})) {
				t.Errorf("claims = %+v, want subject coach-app with role service", claims)
			}
		})
	}
}

func unsigned(t *testing.T, iss string, now time.Time) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": iss,
		"aud": "hydrocast-api", "sub": "x", "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = "d1"
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hmacWithPublicKey forges the classic algorithm-confusion token: HS256 keyed with
// the bytes of the provider's public key, which anyone can read.
func hmacWithPublicKey(t *testing.T, iss string, now time.Time, k testKey) string {
	der, _ := x509.MarshalPKIXPublicKey(k.priv.Public())
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": iss,
		"aud": "hydrocast-api", "sub": "x", "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = k.kid
	s, _ := tok.SignedString(der)
	return s
}

// algOnOtherKey signs with an EC key but names the RSA key's kid.
func algOnOtherKey(t *testing.T, iss string, now time.Time, rsaKey testKey) string {
	ec := newECKey(t, rsaKey.kid)
	return ec.sign(t, now, iss, nil)
}

func TestOIDCKeyRotation(t *testing.T) {
	k1, k2 := newEd25519Key(t, "k1"), newECKey(t, "k2")
	p := newProvider(t, k1)
	c := newClock()
	v := p.verifier(t, c, OIDCOptions{UnknownKeyBackoff: 30 * time.Second})
	iss := p.srv.URL
	verify := func(tok string) error {
		_, err := v.Verify(t.Context(), tok)
		return err
	}

	t.Run("cached", func(t *testing.T) {
		for range 10 {
			if err := verify(k1.sign(t, c.now(), iss, nil)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
		if n := p.fetches.Load(); n != 1 {
			t.Errorf("%d key set fetches for 10 tokens, want 1", n)
		}
	})

	t.Run("new key fetched", func(t *testing.T) {
		c.advance(time.Minute)
		p.publish(k2)
		if err := verify(k2.sign(t, c.now(), iss, nil)); err != nil {
			t.Fatalf("token with the rotated-in key: %v", err)
		}
		if err := verify(k1.sign(t, c.now(), iss, nil)); err == nil {
			t.Error("token with the rotated-out key accepted")
		}
		if n := p.fetches.Load(); n != 2 {
			t.Errorf("%d fetches, want 2", n)
		}
	})

	t.Run("forged key ids back off", func(t *testing.T) {
		for i := range 20 {
			forged := newEd25519Key(t, "forged-"+string(rune('a'+i)))
			if verify(forged.sign(t, c.now(), iss, nil)) == nil {
				t.Fatal("token with an unpublished key accepted")
			}
		}
		if n := p.fetches.Load(); n != 2 {
			t.Errorf("%d fetches after forged key ids within the backoff, want 2", n)
		}
		c.advance(31 * time.Second)
		verify(newEd25519Key(t, "forged-late").sign(t, c.now(), iss, nil))
		if n := p.fetches.Load(); n != 3 {
			t.Errorf("%d fetches after the backoff, want 3", n)
		}
	})

	t.Run("refetched when stale", func(t *testing.T) {
		c.advance(time.Hour + time.Second)
		if err := verify(k2.sign(t, c.now(), iss, nil)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if n := p.fetches.Load(); n != 4 {
			t.Errorf("%d fetches, want 4 after the refresh interval", n)
		}
	})

	t.Run("provider down", func(t *testing.T) {
		p.setDown()
		c.advance(time.Hour + time.Second)
		if err := verify(k2.sign(t, c.now(), iss, nil)); err != nil {
			t.Errorf("cached key refused while the provider is down: %v", err)
		}
		c.advance(time.Minute)
		err := verify(newEd25519Key(t, "k3").sign(t, c.now(), iss, nil))
		if !errors.Is(err, ErrKeysUnavailable) {
			t.Errorf("unknown key while the provider is down: %v, want ErrKeysUnavailable", err)
		}
	})
}

func TestOIDCRolesClaimPath(t *testing.T) {
	k := newEd25519Key(t, "k")
	p := newProvider(t, k)
	c := newClock()
	v := p.verifier(t, c, OIDCOptions{RolesClaim: "realm_access.roles"})
	tok := k.sign(t, c.now(), p.srv.URL, jwt.MapClaims{
		"realm_access": map[string]any{"roles": []string{"mlops", "researcher"}}})

	claims, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !slices.Equal(claims.Roles, []string{"mlops", "researcher"}) {
		t.Errorf("roles = %v, want [mlops researcher]", claims.Roles)
	}
}

func TestNewOIDCRefusesBadProviders(t *testing.T) {
	k := newEd25519Key(t, "k")
	cases := []struct {
		name string
		meta map[string]string
	}{
		{"issuer mismatch", map[string]string{"issuer": "https://other.example"}},
		{"cleartext jwks_uri", map[string]string{"jwks_uri": "http://keys.example/k"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter,
				r *http.Request) {
				meta := map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/k"}
				for name, v := range tc.meta {
					meta[name] = v
				}
				if r.URL.Path == "/k" {
					json.NewEncoder(w).Encode(map[string]any{
						"keys": []map[string]string{k.jwk}})
					return
				}
				json.NewEncoder(w).Encode(meta)
			}))
			defer srv.Close()

			_, err := NewOIDC(t.Context(), OIDCOptions{Issuer: srv.URL,
				Audience: "a", HTTPClient: srv.Client()})
			if err == nil {
				t.Fatal("NewOIDC accepted a bad provider")
			}
		})
	}
}

func TestNewOIDCNeedsAudienceAndTLS(t *testing.T) {
	cases := []OIDCOptions{
		{Issuer: "https://idp.example"},
		{Issuer: "http://idp.example", Audience: "a"},
		{Issuer: "https://idp.example", Audience: "a", JWKSURL: "ftp://x"},
	}
	for _, opts := range cases {
		if _, err := NewOIDC(context.Background(), opts); err == nil {
			t.Errorf("NewOIDC(%+v) accepted", opts)
		}
	}
}

func TestSignerRoundTrip(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	c := newClock()
	s := NewSigner(key, SignerOptions{Now: c.now})
	v, err := s.Verifier(VerifyOptions{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, _ := NewSigner(other, SignerOptions{Now: c.now}).Verifier(
		VerifyOptions{Now: c.now})

	tok, err := s.Issue(IssueRequest{Subject: "alice", Roles: []string{"mlops"},
		TTL: 10 * time.Minute})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}

	claims, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Subject != "alice" || !slices.Equal(claims.Roles, []string{"mlops"}) ||
		claims.Issuer != LocalIssuer || claims.ID == "" ||
		!claims.ExpiresAt.Equal(c.now().Add(10*time.Minute)) {
		t.Errorf("claims = %+v", claims)
	}
	if _, err := wrongKey.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token verified with another key: %v", err)
	}
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + b64([]byte(`{"sub":"alice","roles":["admin"]}`)) + "." +
		parts[2]
	if _, err := v.Verify(t.Context(), forged); err == nil {
		t.Error("token with an edited payload accepted")
	}
	c.advance(11 * time.Minute)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("expired token: %v, want ErrTokenExpired", err)
	}
}

func TestSignerJWKSVerifiesThroughOIDC(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	s := NewSigner(key, SignerOptions{})

	keys, err := parseJWKS(s.JWKS())
	if err != nil {
		t.Fatalf("parse the signer's key set: %v", err)
	}
	k, ok := keys[KeyID(key.Public().(ed25519.PublicKey))]
	if !ok || !k.key.(ed25519.PublicKey).Equal(key.Public()) {
		t.Errorf("key set %v lacks the signer's key under its thumbprint", keys)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.key")

	created, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	loaded, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !created.Equal(loaded) {
		t.Error("second call returned another key")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	os.WriteFile(path, []byte("junk"), 0o600)
	if _, err := LoadKey(path); err == nil {
		t.Error("LoadKey accepted a file without a key")
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	ed := newEd25519Key(t, "ok")
	cases := []struct {
		name string
		jwk  map[string]string
		want bool
	}{
		{"Ed25519", ed.jwk, true},
		{"encryption key", map[string]string{"kty": "OKP", "crv": "Ed25519", "use": "enc",
			"kid": "e", "x": ed.jwk["x"]}, false},
		{"short RSA", map[string]string{"kty": "RSA", "kid": "r", "n": b64(make([]byte,
			128)), "e": "AQAB"}, false},
		{"alg unfit for key", map[string]string{"kty": "OKP", "crv": "Ed25519",
			"alg": "RS256", "kid": "a", "x": ed.jwk["x"]}, false},
		{"symmetric", map[string]string{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}, false},
		{"EC off the curve", map[string]string{"kty": "EC", "crv": "P-256", "kid": "c",
			"x": b64(make([]byte, 32)), "y": b64(make([]byte, 32))}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := json.Marshal(map[string]any{"keys": []map[string]string{tc.jwk}})

			keys, err := parseJWKS(data)

			if tc.want != (err == nil && len(keys) == 1) {
				t.Errorf("parseJWKS = %v, %v; want usable=%v", keys, err, tc.want)
			}
		})
	}
}

func FuzzParseJWKS(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	f.Add(NewSigner(key, SignerOptions{}).JWKS())
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-521","x":"","y":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseJWKS(data)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no key")
		}
	})
}

func FuzzKeyVerifier(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	s := NewSigner(key, SignerOptions{})
	v, _ := s.Verifier(VerifyOptions{})
	valid, _ := s.Issue(IssueRequest{Subject: "x"})
	parts := strings.Split(valid, ".")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + ".." + parts[2])
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("....")
	f.Fuzz(func(t *testing.T, raw string) {
		if raw == valid {
			return
		}
		if _, err := v.Verify(context.Background(), raw); err == nil {
			t.Fatalf("accepted %q", raw)
		}
	})
}

func BenchmarkKeyVerifier(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(nil)
	s := NewSigner(key, SignerOptions{})
	v, _ := s.Verifier(VerifyOptions{})
	tok, _ := s.Issue(IssueRequest{Subject: "svc", Roles: []string{"service"}})
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
