package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// minRSABits is the smallest RSA modulus accepted; NIST has disallowed smaller keys
// for signatures since 2013.
const minRSABits = 2048

// publicKey is one verification key of a key set, with the algorithms it may check.
type publicKey struct {
	key  any
	algs []string
}

// jwk holds the JSON Web Key members hydrocast reads (RFC 7517, 7518, 8037).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS decodes a JSON Web Key Set into its signature keys by kid. Keys for
// encryption or of unknown types are skipped, as RFC 7517 asks; a set left with no
// usable key is an error.
func parseJWKS(data []byte) (map[string]publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	keys := make(map[string]publicKey, len(set.Keys))
	for _, raw := range set.Keys {
		var k jwk
		if json.Unmarshal(raw, &k) != nil || (k.Use != "" && k.Use != "sig") {
			continue
		}
		pk, err := k.publicKey()
		if err != nil {
			continue
		}
		keys[k.Kid] = pk
	}
	if len(keys) == 0 {
		return nil, errors.New("decode key set: no usable signature key")
	}
	return keys, nil
}

// publicKey builds the Go key and narrows its algorithms to the one the JWK names,
// if it names one.
func (k jwk) publicKey() (publicKey, error) {
	var pk publicKey
	var err error
	switch k.Kty {
	case "RSA":
		pk, err = k.rsaKey()
	case "EC":
		pk, err = k.ecKey()
	case "OKP":
		pk, err = k.okpKey()
	default:
		err = fmt.Errorf("key type %q not supported", k.Kty)
	}
	if err != nil || k.Alg == "" {
		return pk, err
	}
	if !slices.Contains(pk.algs, k.Alg) {
		return publicKey{}, fmt.Errorf("algorithm %q does not fit a %s key", k.Alg, k.Kty)
	}
	pk.algs = []string{k.Alg}
	return pk, nil
}

func (k jwk) rsaKey() (publicKey, error) {
	n, err1 := base64.RawURLEncoding.DecodeString(k.N)
	e, err2 := base64.RawURLEncoding.DecodeString(k.E)
	if err := errors.Join(err1, err2); err != nil {
		return publicKey{}, fmt.Errorf("decode RSA key: %w", err)
	}
	mod := new(big.Int).SetBytes(n)
	exp := new(big.Int).SetBytes(e)
	if mod.BitLen() < minRSABits || !exp.IsInt64() || exp.Int64() < 3 ||
		exp.Int64() > 1<<31-1 || exp.Bit(0) == 0 {
		return publicKey{}, errors.New("RSA key too small or with a bad exponent")
	}
	pub := &rsa.PublicKey{N: mod, E: int(exp.Int64())}
	return publicKey{key: pub, algs: []string{"RS256", "RS384", "RS512", "PS256",
		"PS384", "PS512"}}, nil
}

func (k jwk) ecKey() (publicKey, error) {
	var curve elliptic.Curve
	var alg string
	switch k.Crv {
	case "P-256":
		curve, alg = elliptic.P256(), "ES256"
	case "P-384":
		curve, alg = elliptic.P384(), "ES384"
	case "P-521":
		curve, alg = elliptic.P521(), "ES512"
	default:
		return publicKey{}, fmt.Errorf("curve %q not supported", k.Crv)
	}
	x, err1 := base64.RawURLEncoding.DecodeString(k.X)
	y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
	size := (curve.Params().BitSize + 7) / 8
	if errors.Join(err1, err2) != nil || len(x) != size || len(y) != size {
		return publicKey{}, errors.New("bad EC coordinates")
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return publicKey{}, fmt.Errorf("decode EC key: %w", err)
	}
	return publicKey{key: pub, algs: []string{alg}}, nil
}

func (k jwk) okpKey() (publicKey, error) {
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
		return publicKey{}, errors.New("only Ed25519 OKP keys are supported")
	}
	return publicKey{key: ed25519.PublicKey(x), algs: []string{"EdDSA"}}, nil
}

// allAlgs lists every algorithm some key type here may check; "none" and the HMAC
// family are absent on purpose, so a public key can never serve as an HMAC secret.
var allAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
	"ES384", "ES512", "EdDSA"}
