package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of the embedded setup, where the server both mints and checks tokens.
const (
	LocalIssuer     = "hydrocast"
	DefaultAudience = "hydrocast"
	DefaultTTL      = time.Hour
)

// SignerOptions tune a Signer.
type SignerOptions struct {
	// Issuer is the iss of minted tokens. Empty means LocalIssuer.
	Issuer string

	// Audience is the aud of minted tokens. Empty means DefaultAudience.
	Audience string

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Signer mints tokens signed with a local Ed25519 key, for `hydrocast token issue`.
type Signer struct {
	key  ed25519.PrivateKey
	kid  string
	opts SignerOptions
}

// NewSigner returns a Signer for key.
func NewSigner(key ed25519.PrivateKey, opts SignerOptions) *Signer {
	if opts.Issuer == "" {
		opts.Issuer = LocalIssuer
	}
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Signer{key: key, kid: KeyID(key.Public().(ed25519.PublicKey)), opts: opts}
}

// IssueRequest says whom a token is for.
type IssueRequest struct {
	Subject string        // the principal's name, required
	Roles   []string      // role names, written to the "roles" claim
	TTL     time.Duration // how long the token is valid; zero means DefaultTTL
}

// Issue returns a signed compact JWT for req.
func (s *Signer) Issue(req IssueRequest) (string, error) {
	if req.Subject == "" {
		return "", errors.New("issue token: empty subject")
	}
	if req.TTL <= 0 {
		req.TTL = DefaultTTL
	}
	now := s.opts.Now().Truncate(time.Second)
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)

	claims := jwt.MapClaims{
		"iss": s.opts.Issuer, "aud": s.opts.Audience, "sub": req.Subject,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(req.TTL).Unix(),
		"jti": hex.EncodeToString(jti), "roles": append([]string{}, req.Roles...),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

// Verifier returns a KeyVerifier for the Signer's tokens, with opts' issuer and
// audience defaulting to the Signer's.
func (s *Signer) Verifier(opts VerifyOptions) (*KeyVerifier, error) {
	if opts.Issuer == "" {
		opts.Issuer = s.opts.Issuer
	}
	if opts.Audience == "" {
		opts.Audience = s.opts.Audience
	}
	return NewKeyVerifier(s.key.Public().(ed25519.PublicKey), opts)
}

// JWKS returns the Signer's public key as a JSON Web Key Set, for services that check
// hydrocast's tokens themselves.
func (s *Signer) JWKS() []byte {
	pub := s.key.Public().(ed25519.PublicKey)
	set := map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": s.kid,
		"x": base64.RawURLEncoding.EncodeToString(pub),
	}}}
	out, _ := json.Marshal(set)
	return out
}

// KeyID returns pub's RFC 7638 thumbprint, the kid a Signer writes: it changes
// exactly when the key does.
func KeyID(pub ed25519.PublicKey) string {
	x := base64.RawURLEncoding.EncodeToString(pub)
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeyVerifier checks tokens signed with one Ed25519 key.
type KeyVerifier struct {
	pub  ed25519.PublicKey
	opts VerifyOptions
}

// NewKeyVerifier returns a verifier for tokens signed by pub's private key.
func NewKeyVerifier(pub ed25519.PublicKey, opts VerifyOptions) (*KeyVerifier, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("create key verifier: %w", err)
	}
	return &KeyVerifier{pub: pub, opts: opts}, nil
}

// Verify checks raw and returns its claims.
func (v *KeyVerifier) Verify(_ context.Context, raw string) (Claims, error) {
	return verify(raw, v.opts, []string{jwt.SigningMethodEdDSA.Alg()},
		func(*jwt.Token) (any, error) { return v.pub, nil })
}

// LoadOrCreateKey reads the PEM (PKCS #8) Ed25519 private key at path, creating it
// with mode 0600 when the file does not exist.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	_, key, err = ed25519.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("generate token key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode token key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	// O_EXCL: if another process created the key meanwhile, use theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create token key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("write token key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write token key: %w", err)
	}
	return key, nil
}

// LoadKey reads the PEM (PKCS #8) Ed25519 private key at path.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("read token key %s: no PEM PRIVATE KEY block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse token key %s: %w", path, err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse token key %s: not an Ed25519 key", path)
	}
	return ed, nil
}
