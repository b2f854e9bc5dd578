package registry

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Size limits keep one careless request from bloating the metadata database, which
// every server reads.
const (
	maxNameText    = 256     // principals, lineage fields, tag and metric names
	maxTagValue    = 4 << 10 // bytes
	maxDescription = 16 << 10
	maxReason      = 1 << 10
	maxCardText    = 1 << 20
	maxReference   = 16 << 20
	maxEntries     = 256 // tags, metrics, tensors, features per input
	maxRank        = 8
)

var (
	// Lowercase keeps model names usable unchanged in URLs, object paths and
	// metric labels.
	modelNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

	// An alias starts with a letter so that it can never be read as a version
	// number.
	aliasPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

	digestPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// datatypes are the Open Inference Protocol tensor datatypes.
var datatypes = map[string]bool{
	"BOOL": true, "UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true,
	"INT8": true, "INT16": true, "INT32": true, "INT64": true,
	"FP16": true, "BF16": true, "FP32": true, "FP64": true, "BYTES": true,
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// CheckModelName returns an ErrInvalid error unless name is a valid model name: 1 to
// 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.
func CheckModelName(name string) error {
	if !modelNamePattern.MatchString(name) {
		return invalid("model name %q: want 1 to 64 of a-z 0-9 . _ -, "+
			"starting with a letter or digit", name)
	}
	return nil
}

// CheckAlias returns an ErrInvalid error unless alias is a valid alias name: 1 to
// 64 lowercase letters, digits, '_' or '-', starting with a letter.
func CheckAlias(alias string) error {
	if !aliasPattern.MatchString(alias) {
		return invalid("alias %q: want 1 to 64 of a-z 0-9 _ -, starting with a letter",
			alias)
	}
	return nil
}

// CheckDigest returns an ErrInvalid error unless digest is a lowercase hex SHA-256.
func CheckDigest(digest string) error {
	if !digestPattern.MatchString(digest) {
		return invalid("artifact digest %q: want 64 lowercase hex digits", digest)
	}
	return nil
}

// checkText rejects text that is too long, not UTF-8 or carries control characters
// other than newlines and tabs, which would garble listings and logs.
func checkText(field, s string, limit int) error {
	if len(s) > limit {
		return invalid("%s: %d bytes, at most %d allowed", field, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return invalid("%s: not valid UTF-8", field)
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r'
	}); i >= 0 {
		return invalid("%s: control character at byte %d", field, i)
	}
	return nil
}

// checkKey checks a tag key, metric name or feature name: non-empty, one line.
func checkKey(field, s string) error {
	if s == "" || strings.TrimSpace(s) != s {
		return invalid("%s %q: empty or with leading or trailing space", field, s)
	}
	if strings.ContainsAny(s, "\n\r\t") {
		return invalid("%s %q: more than one line", field, s)
	}
	return checkText(field, s, maxNameText)
}

func checkJSON(field string, doc json.RawMessage, limit int) error {
	if len(doc) == 0 {
		return nil
	}
	if len(doc) > limit {
		return invalid("%s: %d bytes, at most %d allowed", field, len(doc), limit)
	}
	if !json.Valid(doc) {
		return invalid("%s: not valid JSON", field)
	}
	return nil
}

// Check returns an ErrInvalid error naming the first malformed field of the version
// to insert. Stores call it before they touch the database.
func (nv NewVersion) Check() error {
	v := nv.Version
	if err := CheckModelName(v.Model); err != nil {
		return err
	}
	if v.Status != "" && v.Status != StatusPending && v.Status != StatusReady {
		return invalid("status %q: a new version is pending or ready", v.Status)
	}
	if nv.Promote != nil && v.Status == StatusPending {
		return invalid("alias %q: a pending version cannot be aliased", nv.Promote.Alias)
	}
	if err := CheckDigest(v.Digest); err != nil {
		return err
	}
	if v.Size < 0 {
		return invalid("artifact size %d: negative", v.Size)
	}
	if err := checkText("model description", nv.ModelDescription, maxDescription); err != nil {
		return err
	}
	if err := nv.Promote.check(); err != nil {
		return err
	}
	return checkContent(v)
}

// checkContent checks the fields a publisher supplies.
func checkContent(v Version) error {
	if err := checkText("description", v.Description, maxDescription); err != nil {
		return err
	}
	if err := v.Signature.Check(); err != nil {
		return err
	}
	if err := checkTags(v.Tags); err != nil {
		return err
	}
	if err := checkMetrics(v.Metrics); err != nil {
		return err
	}
	if err := v.Lineage.check(); err != nil {
		return err
	}
	if err := checkText("model card", v.Card.Markdown, maxCardText); err != nil {
		return err
	}
	if err := checkJSON("model card document", v.Card.Document, maxCardText); err != nil {
		return err
	}
	return checkJSON("reference profile", v.Reference, maxReference)
}

func (p *Promotion) check() error {
	if p == nil {
		return nil
	}
	if err := CheckAlias(p.Alias); err != nil {
		return err
	}
	if p.Expect < 0 {
		return invalid("expected version %d: negative", p.Expect)
	}
	return checkText("reason", p.Reason, maxReason)
}

func checkTags(tags map[string]string) error {
	if len(tags) > maxEntries {
		return invalid("tags: %d, at most %d allowed", len(tags), maxEntries)
	}
	for k, v := range tags {
		if err := checkKey("tag key", k); err != nil {
			return err
		}
		if err := checkText("tag "+k, v, maxTagValue); err != nil {
			return err
		}
	}
	return nil
}

func checkMetrics(metrics map[string]float64) error {
	if len(metrics) > maxEntries {
		return invalid("metrics: %d, at most %d allowed", len(metrics), maxEntries)
	}
	for name, x := range metrics {
		if err := checkKey("metric name", name); err != nil {
			return err
		}
		// JSON and most databases cannot carry NaN or infinities.
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return invalid("metric %s: %v is not a finite number", name, x)
		}
	}
	return nil
}

func (l Lineage) check() error {
	fields := []struct{ name, value string }{
		{"lineage run id", l.RunID},
		{"lineage data fingerprint", l.DataFingerprint},
		{"lineage code version", l.CodeVersion},
		{"lineage generator", l.Generator},
	}
	for _, f := range fields {
		if err := checkText(f.name, f.value, maxNameText); err != nil {
			return err
		}
	}
	return nil
}

// Check returns an ErrInvalid error unless the signature has at least one input
// and one output, unique tensor names, Open Inference Protocol datatypes, shapes
// of known or variable (-1) dimensions, and feature names that fit their input's
// last dimension.
func (s Signature) Check() error {
	if len(s.Inputs) == 0 || len(s.Outputs) == 0 {
		return invalid("signature: needs at least one input and one output")
	}
	if len(s.Inputs)+len(s.Outputs) > maxEntries {
		return invalid("signature: more than %d tensors", maxEntries)
	}
	if err := checkTensors("input", s.Inputs, true); err != nil {
		return err
	}
	return checkTensors("output", s.Outputs, false)
}

func checkTensors(kind string, tensors []Tensor, featured bool) error {
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		if err := checkKey(kind+" name", t.Name); err != nil {
			return err
		}
		if seen[t.Name] {
			return invalid("%s %q: named twice", kind, t.Name)
		}
		seen[t.Name] = true

		if !datatypes[t.Datatype] {
			return invalid("%s %q: datatype %q is not an inference-protocol type",
				kind, t.Name, t.Datatype)
		}
		if err := checkShape(t.Shape); err != nil {
			return fmt.Errorf("%s %q: %w", kind, t.Name, err)
		}
		if !featured && len(t.Features) > 0 {
			return invalid("%s %q: only inputs name features", kind, t.Name)
		}
		if err := checkFeatures(t); err != nil {
			return fmt.Errorf("%s %q: %w", kind, t.Name, err)
		}
	}
	return nil
}

func checkShape(shape []int64) error {
	if len(shape) == 0 || len(shape) > maxRank {
		return invalid("shape %v: want 1 to %d dimensions", shape, maxRank)
	}
	for _, d := range shape {
		if d != -1 && d < 1 {
			return invalid("shape %v: a dimension is positive or -1", shape)
		}
	}
	return nil
}

func checkFeatures(t Tensor) error {
	if len(t.Features) == 0 {
		return nil
	}
	if len(t.Features) > 4*maxEntries {
		return invalid("%d features, at most %d allowed", len(t.Features), 4*maxEntries)
	}
	last := t.Shape[len(t.Shape)-1]
	if last != -1 && last != int64(len(t.Features)) {
		return invalid("%d features but the last dimension is %d", len(t.Features), last)
	}
	seen := make(map[string]bool, len(t.Features))
	for _, f := range t.Features {
		if err := checkKey("feature", f); err != nil {
			return err
		}
		if seen[f] {
			return invalid("feature %q: named twice", f)
		}
		seen[f] = true
	}
	return nil
}

// Check returns an ErrInvalid error naming the first malformed field of the move.
func (m AliasMove) Check() error {
	if err := CheckModelName(m.Model); err != nil {
		return err
	}
	if err := CheckAlias(m.Alias); err != nil {
		return err
	}
	if m.Version < 1 {
		return invalid("version %d: versions are numbered from 1", m.Version)
	}
	if m.Expect < 0 {
		return invalid("expected version %d: negative", m.Expect)
	}
	return checkText("reason", m.Reason, maxReason)
}

// Check returns an ErrInvalid error naming the first malformed field of the change.
func (c StatusChange) Check() error {
	if err := CheckModelName(c.Model); err != nil {
		return err
	}
	if c.Version < 1 {
		return invalid("version %d: versions are numbered from 1", c.Version)
	}
	switch c.Status {
	case StatusReady, StatusFailed, StatusPending:
	default:
		return invalid("status %q: want pending, ready or failed", c.Status)
	}
	if c.Status == StatusFailed && c.Reason == "" {
		return invalid("status failed: a reason is required")
	}
	return checkText("reason", c.Reason, maxReason)
}

// CanChange reports whether a version may go from status from to status to: a
// pending version becomes ready or failed, a ready one failed. Whether an alias
// still points at it is for the store to check.
func CanChange(from, to Status) bool {
	switch from {
	case StatusPending:
		return to == StatusReady || to == StatusFailed
	case StatusReady:
		return to == StatusFailed
	}
	return false
}
