// Package token verifies and issues the JWT bearer tokens hydrocast's servers accept.
//
// Two sources of keys are supported: a local Ed25519 key, for the embedded default,
// with which Signer mints tokens and KeyVerifier checks them; and an OpenID Connect
// provider, whose published key set OIDC fetches through discovery, caches and
// refetches when the provider rotates its keys. Both check the signature, the
// algorithm against the key, the issuer, the audience and the expiry.
//
// JWT handling is github.com/golang-jwt/jwt/v5: it has no dependencies of its own,
// its parser takes the checks hydrocast needs as explicit options (allowed
// algorithms, issuer, audience, required expiry, leeway), and it leaves key lookup to
// a callback, so the key cache's refetch rules stay in this package where they are
// tested.
package token

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every error for a token that is malformed, badly
// signed, expired, or made for another issuer or audience. The caller's answer is
// "unauthenticated"; the wrapped text says why, for the audit log, and never
// repeats the token.
var ErrInvalidToken = errors.New("invalid token")

// ErrKeysUnavailable is wrapped by the error for a token whose key is not cached and
// could not be fetched: the fault is the provider's or the network's, not the
// caller's, and the call may succeed later.
var ErrKeysUnavailable = errors.New("signing keys unavailable")

// Claims is what a verified token says about its bearer.
type Claims struct {
	Subject   string
	Issuer    string
	Audience  []string
	Roles     []string // the roles claim's strings, unchecked
	ID        string   // the jti claim, empty when absent
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Verifier checks a compact JWT (the text after "Bearer ") and returns its claims.
type Verifier interface {
	Verify(ctx context.Context, raw string) (Claims, error)
}

// VerifyOptions are the checks every verifier makes.
type VerifyOptions struct {
	// Issuer is the iss a token must carry. Required.
	Issuer string

	// Audience must be among a token's aud values. Required.
	Audience string

	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means 30 seconds.
	Leeway time.Duration

	// RolesClaim names the claim holding the bearer's roles, a list of strings or one
	// string of space-separated names; dots walk into nested objects, as in
	// Keycloak's realm_access.roles. Empty means "roles".
	RolesClaim string

	// MaxTokenBytes bounds the token's length; longer ones are refused before any
	// decoding. Zero means 8 KiB.
	MaxTokenBytes int

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

func (o VerifyOptions) withDefaults() (VerifyOptions, error) {
	if o.Issuer == "" || o.Audience == "" {
		return o, errors.New("verify options need an issuer and an audience")
	}
	if o.Leeway == 0 {
		o.Leeway = 30 * time.Second
	}
	if o.RolesClaim == "" {
		o.RolesClaim = "roles"
	}
	if o.MaxTokenBytes <= 0 {
		o.MaxTokenBytes = 8 << 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// verify parses raw, checks its signature with the key keyFunc picks, among the
// algorithms methods allows, and checks its claims.
func verify(raw string, o VerifyOptions, methods []string, keyFunc jwt.Keyfunc) (Claims,
	error) {
	if len(raw) > o.MaxTokenBytes {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken,
			o.MaxTokenBytes)
	}
	p := jwt.NewParser(jwt.WithValidMethods(methods), jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience), jwt.WithLeeway(o.Leeway),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(o.Now))
	mc := jwt.MapClaims{}
	if _, err := p.ParseWithClaims(raw, mc, keyFunc); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return claimsFrom(mc, o.RolesClaim)
}

// claimsFrom copies the verified claims hydrocast uses.
func claimsFrom(mc jwt.MapClaims, rolesClaim string) (Claims, error) {
	var c Claims
	c.Subject, _ = mc.GetSubject()
	if c.Subject == "" {
		return Claims{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	c.Issuer, _ = mc.GetIssuer()
	c.Audience, _ = mc.GetAudience()
	c.ID, _ = mc["jti"].(string)
	if t, _ := mc.GetIssuedAt(); t != nil {
		c.IssuedAt = t.Time
	}
	if t, _ := mc.GetExpirationTime(); t != nil {
		c.ExpiresAt = t.Time
	}
	c.Roles = rolesFrom(mc, rolesClaim)
	return c, nil
}

// rolesFrom reads the roles claim at a dotted path. A claim of another shape yields
// no roles rather than an error: the bearer is still authenticated, and holds nothing.
func rolesFrom(mc jwt.MapClaims, path string) []string {
	var v any = map[string]any(mc)
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[part]
	}
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		roles := make([]string, 0, len(v))
		for _, r := range v {
			if s, ok := r.(string); ok {
				roles = append(roles, s)
			}
		}
		return roles
	}
	return nil
}
