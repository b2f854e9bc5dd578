// Package audit keeps hydrocast's security audit trail: an append-only file of JSON
// lines, one per authentication failure, authorization denial and audited call, each
// chained to the one before by a SHA-256 hash so that an edited, removed or reordered
// record shows.
//
// A chain proves the file's records belong together; it cannot stop someone who can
// write the file from rewriting all of it. Keep Head's value somewhere else now and
// then (a metric, another log) so that such a rewrite is caught too.
package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Events a Record describes.
const (
	EventAuthnFailure = "authn_failure" // no credential, or one that failed to verify
	EventAuthzDenied  = "authz_denied"  // a known principal lacked the permission
	EventCall         = "call"          // a call the policy marks as audited
)

// Outcomes of a Record.
const (
	OutcomeAllowed = "allowed"
	OutcomeDenied  = "denied"
	OutcomeFailed  = "failed" // allowed, but the handler returned an error
)

// Genesis is the Prev of a file's first record.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Record is one line of the audit file. Log fills Seq, Prev and, when zero, Time.
type Record struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Principal string    `json:"principal,omitempty"`
	Method    string    `json:"method"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	Remote    string    `json:"remote,omitempty"`
	RequestID string    `json:"request_id,omitempty"`

	// Prev is the hex SHA-256 of the previous record, Genesis for the first.
	Prev string `json:"prev"`
}

// hashField ends every line: the hash covers the line's bytes before it, so that
// Verify checks exactly the bytes on disk and never a re-encoding of them.
const hashField = `,"hash":"`

// ErrTampered is wrapped by Verify's error when the file is not the chain Log wrote.
var ErrTampered = errors.New("audit chain broken")

// chainHash is the link between a record and the next: SHA-256 over the previous
// hash and the record's body.
func chainHash(prev string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// encode returns r's line with its hash, and that hash.
func encode(r Record) (line []byte, hash string, err error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, "", fmt.Errorf("encode audit record: %w", err)
	}
	body = body[:len(body)-1] // drop "}" so the hash can follow inside the object
	hash = chainHash(r.Prev, body)
	line = append(body, hashField...)
	line = append(line, hash...)
	return append(line, "\"}\n"...), hash, nil
}

// decode splits one line (without its newline) into its record and its stored hash.
func decode(line []byte) (Record, []byte, string, error) {
	var r Record
	i := bytes.LastIndex(line, []byte(hashField))
	if i < 0 || len(line) < i+len(hashField)+2 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return r, nil, "", errors.New("no hash field at the end")
	}
	body := line[:i]
	hash := string(line[i+len(hashField) : len(line)-2])
	if err := json.Unmarshal(append(bytes.Clone(body), '}'), &r); err != nil {
		return r, nil, "", fmt.Errorf("decode record: %w", err)
	}
	return r, body, hash, nil
}

// VerifyError says where a chain breaks.
type VerifyError struct {
	Line   int // 1-based line number in the file
	Reason string
}

// Error says which line broke the chain and how.
func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit line %d: %s", e.Line, e.Reason)
}

// Unwrap makes errors.Is(err, ErrTampered) true.
func (e *VerifyError) Unwrap() error { return ErrTampered }

// Verify reads an audit file's lines from r and checks each record's hash and its
// link to the previous one. It returns the number of records checked and the last
// record's hash (Genesis for an empty file); the error is a *VerifyError at the first
// broken line, or the reader's error.
func Verify(r io.Reader) (n int, head string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	head = Genesis
	for sc.Scan() {
		n++
		rec, body, hash, err := decode(sc.Bytes())
		switch {
		case err != nil:
			return n - 1, head, &VerifyError{Line: n, Reason: err.Error()}
		case rec.Prev != head:
			return n - 1, head, &VerifyError{Line: n, Reason: "does not follow the line before"}
		case rec.Seq != uint64(n):
			return n - 1, head, &VerifyError{Line: n, Reason: "sequence number out of place"}
		case chainHash(rec.Prev, body) != hash:
			return n - 1, head, &VerifyError{Line: n, Reason: "hash does not match content"}
		}
		head = hash
	}
	if err := sc.Err(); err != nil {
		return n, head, fmt.Errorf("read audit file: %w", err)
	}
	return n, head, nil
}

// VerifyFile runs Verify on the file at path.
func VerifyFile(path string) (n int, head string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("open audit file: %w", err)
	}
	defer f.Close()
	return Verify(f)
}

// maxLineBytes bounds one record; fields come from the policy and short request
// metadata, so a longer line is damage, not data.
const maxLineBytes = 1 << 20

// clip shortens free-text fields from callers (request ids, reasons) so that a caller
// cannot grow the audit file by sending long metadata.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
