package pseudonym

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func testKey(b byte) []byte {
	return bytes.Repeat([]byte{b}, MinKeyBytes)
}

func TestNewRejectsShortKey(t *testing.T) {
	_, err := New(make([]byte, MinKeyBytes-1))
	if !errors.Is(err, ErrShortKey) {
		t.Fatalf("New(31 bytes) error = %v, want ErrShortKey", err)
	}
}

func TestPseudonymize(t *testing.T) {
	p1, _ := New(testKey(1))
	p2, _ := New(testKey(2))

	a := p1.Pseudonymize("a-17")
	if a != p1.Pseudonymize("a-17") {
		t.Error("same id and key gave two pseudonyms")
	}
	if a == p1.Pseudonymize("a-18") {
		t.Error("two ids gave the same pseudonym")
	}
	if a == p2.Pseudonymize("a-17") {
		t.Error("two keys gave the same pseudonym")
	}
	if !strings.HasPrefix(a, Prefix) || len(a) != len(Prefix)+32 || strings.Contains(a, "a-17") {
		t.Errorf("pseudonym %q: want %s and 32 hex digits, without the id", a, Prefix)
	}
}

// idValuer is a LogValuer that resolves to an athlete id, the way a domain type might.
type idValuer string

func (v idValuer) LogValue() slog.Value { return slog.StringValue(string(v)) }

// logShapes logs the raw id rawID in every shape an attribute can take.
var logShapes = []struct {
	name string
	log  func(l *slog.Logger, rawID string)
}{
	{"top level", func(l *slog.Logger, id string) { l.Info("assess", Key, id) }},
	{"attr value", func(l *slog.Logger, id string) {
		l.LogAttrs(context.Background(), slog.LevelInfo, "assess", slog.String(Key, id))
	}},
	{"with", func(l *slog.Logger, id string) { l.With(Key, id).Info("assess") }},
	{"group", func(l *slog.Logger, id string) {
		l.Info("assess", slog.Group("req", slog.String(Key, id)))
	}},
	{"nested group", func(l *slog.Logger, id string) {
		l.Info("assess", slog.Group("a", slog.Group("b", Key, id)))
	}},
	{"with group", func(l *slog.Logger, id string) {
		l.WithGroup("req").With(Key, id).Info("assess")
	}},
	{"log valuer", func(l *slog.Logger, id string) { l.Info("assess", Key, idValuer(id)) }},
	{"any", func(l *slog.Logger, id string) { l.Info("assess", Key, []string{id}) }},
}

func TestHandlerHidesRawIDs(t *testing.T) {
	p, _ := New(testKey(7))
	const rawID = "athlete-raw-4242"
	for _, shape := range logShapes {
		t.Run(shape.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), p))

			shape.log(l, rawID)

			line := buf.String()
			if strings.Contains(line, rawID) {
				t.Fatalf("raw id reached the log line: %s", line)
			}
			if !strings.Contains(line, Prefix) {
				t.Fatalf("no pseudonym in the log line: %s", line)
			}
		})
	}
}

func TestReplaceAttrHidesRawIDs(t *testing.T) {
	p, _ := New(testKey(7))
	const rawID = "athlete-raw-4242"
	for _, shape := range logShapes {
		t.Run(shape.name, func(t *testing.T) {
			var buf bytes.Buffer
			opts := &slog.HandlerOptions{ReplaceAttr: p.ReplaceAttr}
			l := slog.New(slog.NewJSONHandler(&buf, opts))

			shape.log(l, rawID)

			if line := buf.String(); strings.Contains(line, rawID) {
				t.Fatalf("raw id reached the log line: %s", line)
			}
		})
	}
}

func TestHandlerKeepsOtherAttributes(t *testing.T) {
	p, _ := New(testKey(7))
	var buf bytes.Buffer
	l := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), p))

	l.Info("assess", Key, "a-17", "model", "sweat-rate")

	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("decode log line: %v", err)
	}
	if got["model"] != "sweat-rate" {
		t.Errorf("model = %v, want sweat-rate", got["model"])
	}
	if got[Key] != p.Pseudonymize("a-17") {
		t.Errorf("%s = %v, want %s", Key, got[Key], p.Pseudonymize("a-17"))
	}
}

func BenchmarkPseudonymize(b *testing.B) {
	p, _ := New(testKey(7))
	for b.Loop() {
		p.Pseudonymize("athlete-0001")
	}
}
