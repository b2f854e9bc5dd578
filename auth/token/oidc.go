package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OIDCOptions configure an OIDC verifier.
type OIDCOptions struct {
	// Issuer is the provider's issuer URL, as its tokens' iss carries it. Discovery
	// reads Issuer + "/.well-known/openid-configuration". Required.
	Issuer string

	// Audience is the aud tokens must carry: hydrocast's client id at the provider.
	// Required.
	Audience string

	// JWKSURL, when set, is used instead of discovery's jwks_uri.
	JWKSURL string

	// HTTPClient fetches discovery and keys. Nil means a client with a 10-second
	// timeout.
	HTTPClient *http.Client

	// RefreshInterval is how long a fetched key set is trusted before it is fetched
	// again. Zero means one hour.
	RefreshInterval time.Duration

	// UnknownKeyBackoff is the least time between two fetches caused by tokens with a
	// key id the cache lacks, so that forged key ids cannot make hydrocast hammer the
	// provider. Zero means 30 seconds.
	UnknownKeyBackoff time.Duration

	// Leeway, RolesClaim, MaxTokenBytes and Now are as in VerifyOptions.
	Leeway        time.Duration
	RolesClaim    string
	MaxTokenBytes int
	Now           func() time.Time
}

// maxDocumentBytes bounds discovery documents and key sets.
const maxDocumentBytes = 1 << 20

// OIDC verifies tokens from an OpenID Connect provider against its published keys.
// The key set is cached; it is fetched again after RefreshInterval, and sooner when a
// token names a key the cache lacks, which is how a provider's rotation shows. While
// the provider cannot be reached, cached keys keep working. An OIDC is safe for
// concurrent use.
type OIDC struct {
	opts    OIDCOptions
	verify  VerifyOptions
	jwksURL string

	fetchMu sync.Mutex // serializes fetches, so a burst of misses fetches once

	mu        sync.Mutex
	keys      map[string]publicKey // guarded by mu
	fetched   time.Time            // guarded by mu: when keys were fetched
	attempted time.Time            // guarded by mu: the last fetch, failed or not
}

// NewOIDC runs discovery and fetches the provider's keys once, so that a wrong
// configuration fails at start rather than at the first call.
func NewOIDC(ctx context.Context, opts OIDCOptions) (*OIDC, error) {
	o, err := newOIDC(opts)
	if err != nil {
		return nil, fmt.Errorf("configure OIDC: %w", err)
	}
	if o.jwksURL == "" {
		if o.jwksURL, err = o.discover(ctx); err != nil {
			return nil, err
		}
	}
	if err := o.refresh(ctx, time.Time{}); err != nil {
		return nil, err
	}
	return o, nil
}

func newOIDC(opts OIDCOptions) (*OIDC, error) {
	v, err := VerifyOptions{Issuer: opts.Issuer, Audience: opts.Audience,
		Leeway: opts.Leeway, RolesClaim: opts.RolesClaim,
		MaxTokenBytes: opts.MaxTokenBytes, Now: opts.Now}.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = time.Hour
	}
	if opts.UnknownKeyBackoff <= 0 {
		opts.UnknownKeyBackoff = 30 * time.Second
	}
	if err := checkURL(opts.Issuer); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if opts.JWKSURL != "" {
		if err := checkURL(opts.JWKSURL); err != nil {
			return nil, fmt.Errorf("key set URL: %w", err)
		}
	}
	return &OIDC{opts: opts, verify: v, jwksURL: opts.JWKSURL}, nil
}

// checkURL accepts https URLs, and http only to a loopback host, where a developer's
// provider runs without TLS; keys fetched in the clear could be swapped on the way.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme == "https" && u.Host != "" {
		return nil
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme == "http" && (host == "localhost" || (ip != nil && ip.IsLoopback())) {
		return nil
	}
	return fmt.Errorf("%q: want an https URL (http only to a loopback host)", raw)
}

// discover reads the provider's discovery document and returns its jwks_uri.
func (o *OIDC) discover(ctx context.Context) (string, error) {
	doc := strings.TrimSuffix(o.opts.Issuer, "/") + "/.well-known/openid-configuration"
	body, err := o.get(ctx, doc)
	if err != nil {
		return "", fmt.Errorf("OIDC discovery: %w", err)
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return "", fmt.Errorf("OIDC discovery: decode: %w", err)
	}

	// OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer
	// it was fetched for, or a provider could speak for another.
	if meta.Issuer != o.opts.Issuer {
		return "", fmt.Errorf("OIDC discovery: document names issuer %q, want %q",
			meta.Issuer, o.opts.Issuer)
	}
	if err := checkURL(meta.JWKSURI); err != nil {
		return "", fmt.Errorf("OIDC discovery: jwks_uri: %w", err)
	}
	return meta.JWKSURI, nil
}

// get fetches url's body, at most maxDocumentBytes of it.
func (o *OIDC) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := o.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", url, maxDocumentBytes)
	}
	return body, nil
}

// refresh fetches the key set, unless another fetch finished after seen (the fetch
// time the caller saw), which makes this one redundant.
func (o *OIDC) refresh(ctx context.Context, seen time.Time) error {
	o.fetchMu.Lock()
	defer o.fetchMu.Unlock()
	o.mu.Lock()
	done := o.attempted.After(seen) && !seen.IsZero()
	o.attempted = o.verify.Now()
	o.mu.Unlock()
	if done {
		return nil
	}

	// A caller giving up must not abort a fetch others are waiting for; the client's
	// timeout still bounds it.
	body, err := o.get(context.WithoutCancel(ctx), o.jwksURL)
	if err != nil {
		return fmt.Errorf("fetch key set: %w: %w", ErrKeysUnavailable, err)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return fmt.Errorf("fetch key set: %w: %w", ErrKeysUnavailable, err)
	}
	o.mu.Lock()
	o.keys, o.fetched = keys, o.verify.Now()
	o.mu.Unlock()
	return nil
}

// Verify checks raw against the provider's keys and returns its claims.
func (o *OIDC) Verify(ctx context.Context, raw string) (Claims, error) {
	return verify(raw, o.verify, allAlgs, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, err := o.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(k.algs, t.Method.Alg()) {
			return nil, fmt.Errorf("algorithm %s does not fit key %q", t.Method.Alg(), kid)
		}
		return k.key, nil
	})
}

// errUnknownKey is returned for a kid the provider does not publish.
var errUnknownKey = errors.New("no such key id")

// key returns the cached key kid, fetching the set first when it is stale, or when
// kid is unknown and the backoff allows a fetch.
func (o *OIDC) key(ctx context.Context, kid string) (publicKey, error) {
	o.mu.Lock()
	k, found := o.keys[kid]
	fetched, attempted := o.fetched, o.attempted
	o.mu.Unlock()

	now := o.verify.Now()
	stale := now.Sub(fetched) >= o.opts.RefreshInterval
	mayRetry := now.Sub(attempted) >= o.opts.UnknownKeyBackoff
	// Within the backoff, keep to what is cached even when stale: the last fetch
	// was moments ago, and a failed one would fail again.
	if (found && !stale) || !mayRetry {
		return k, lookupErr(found)
	}

	err := o.refresh(ctx, attempted)
	o.mu.Lock()
	k, found = o.keys[kid]
	o.mu.Unlock()
	if !found && err != nil {
		return k, err
	}
	return k, lookupErr(found)
}

func lookupErr(found bool) error {
	if found {
		return nil
	}
	return errUnknownKey
}
