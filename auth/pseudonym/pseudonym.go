// Package pseudonym replaces athlete ids with keyed pseudonyms before they reach logs,
// metrics and traces, so that those stay useful for following one athlete's requests
// without naming the athlete to whoever reads them.
package pseudonym

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// MinKeyBytes is the shortest key New accepts: HMAC-SHA-256 gains nothing from keys
// longer than its 32-byte output, and a shorter one could be guessed.
const MinKeyBytes = 32

// Prefix starts every pseudonym, so that a reader of a log line can tell a pseudonym
// from a raw id at a glance.
const Prefix = "ps_"

// ErrShortKey is returned by New for a key shorter than MinKeyBytes.
var ErrShortKey = errors.New("pseudonym key shorter than 32 bytes")

// Pseudonymizer maps athlete ids to pseudonyms with HMAC-SHA-256. The same id gives
// the same pseudonym under one key, so log lines about one athlete can still be
// joined; without the key the mapping cannot be reversed or recomputed by guessing
// ids. A Pseudonymizer is safe for concurrent use.
type Pseudonymizer struct {
	key []byte
}

// New returns a Pseudonymizer keyed with a copy of key, which must hold at least
// MinKeyBytes bytes. Changing the key changes every pseudonym.
func New(key []byte) (*Pseudonymizer, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("create pseudonymizer: %w", ErrShortKey)
	}
	return &Pseudonymizer{key: append([]byte(nil), key...)}, nil
}

// GenerateKey returns a new random key of MinKeyBytes bytes, for a configuration that
// has none yet.
func GenerateKey() []byte {
	key := make([]byte, MinKeyBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	return key
}

// Pseudonymize returns athleteID's pseudonym: Prefix and the first 128 bits of the
// HMAC in hex. 128 bits keep collisions out of reach for any number of athletes
// hydrocast will see while keeping log lines short.
func (p *Pseudonymizer) Pseudonymize(athleteID string) string {
	mac := hmac.New(sha256.New, p.key)
	mac.Write([]byte(athleteID))
	return Prefix + hex.EncodeToString(mac.Sum(nil)[:16])
}
