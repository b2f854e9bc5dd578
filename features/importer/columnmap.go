package importer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hydrocast/hydrocast/features"
)

// ErrColumnMap is wrapped by every error about a column map or the table options
// around it; the text says what is wrong and where.
var ErrColumnMap = errors.New("invalid column map")

// ColumnMap says which column of a table holds each signal.
type ColumnMap map[features.Signal]string

// ParseColumnMap parses a column map written as comma-separated signal=column
// pairs, signals named by features.Signal.Name:
//
//	heart_rate_bpm=HR,ambient_temp_c="Amb. Temp."
//
// A column name holding a comma, an equals sign, a double quote or edge spaces is
// written in double quotes, a quote inside doubled (""). Spaces around names are
// ignored. Errors name the byte offset of the fault.
func ParseColumnMap(s string) (ColumnMap, error) {
	p := mapParser{s: s}
	m := make(ColumnMap)
	for {
		start := p.skipSpace()
		key, err := p.token('=')
		if err != nil {
			return nil, err
		}
		if key == "" {
			return nil, p.errorf(start, "expected a signal name")
		}
		sig, ok := features.SignalByName(key)
		if !ok {
			return nil, p.errorf(start, "unknown signal %q (known: %s)", key, signalList())
		}
		if _, dup := m[sig]; dup {
			return nil, p.errorf(start, "signal %s mapped twice", key)
		}
		if p.pos >= len(s) || s[p.pos] != '=' {
			return nil, p.errorf(p.pos, "expected = after %s", key)
		}
		p.pos++

		p.skipSpace()
		colStart := p.pos
		col, err := p.token(',')
		if err != nil {
			return nil, err
		}
		if col == "" {
			return nil, p.errorf(colStart, "empty column name for %s", key)
		}
		m[sig] = col

		if p.pos >= len(s) {
			return m, nil
		}
		p.pos++ // the comma
	}
}

// mapParser walks a column map's text.
type mapParser struct {
	s   string
	pos int
}

func (p *mapParser) errorf(at int, format string, a ...any) error {
	return fmt.Errorf("column map at byte %d: %s: %w", at, fmt.Sprintf(format, a...),
		ErrColumnMap)
}

func (p *mapParser) skipSpace() int {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
	return p.pos
}

// token reads a bare or quoted name up to stop, a comma or the end, and leaves the
// position on the stop, the comma or the end. A bare name is trimmed of spaces.
func (p *mapParser) token(stop byte) (string, error) {
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		return p.quoted(stop)
	}
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != stop && p.s[p.pos] != ',' {
		if p.s[p.pos] == '"' {
			return "", p.errorf(p.pos, "quote inside an unquoted name")
		}
		p.pos++
	}
	return strings.TrimSpace(p.s[start:p.pos]), nil
}

// quoted reads a double-quoted name; only spaces may follow it before stop, a
// comma or the end.
func (p *mapParser) quoted(stop byte) (string, error) {
	open := p.pos
	p.pos++
	var b strings.Builder
	for {
		i := strings.IndexByte(p.s[p.pos:], '"')
		if i < 0 {
			return "", p.errorf(open, "unterminated quote")
		}
		b.WriteString(p.s[p.pos : p.pos+i])
		p.pos += i + 1
		if p.pos < len(p.s) && p.s[p.pos] == '"' {
			b.WriteByte('"')
			p.pos++
			continue
		}
		break
	}
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] != stop && p.s[p.pos] != ',' {
		return "", p.errorf(p.pos, "unexpected %q after a quoted name", p.s[p.pos])
	}
	return b.String(), nil
}

// signalList returns the names of all signals, comma-separated.
func signalList() string {
	names := make([]string, features.NumSignals)
	for s := range features.NumSignals {
		names[s] = s.Name()
	}
	return strings.Join(names, ", ")
}

// String writes the map in the syntax ParseColumnMap reads, signals in their order,
// quoting column names where needed.
func (m ColumnMap) String() string {
	var b strings.Builder
	for s := range features.NumSignals {
		col, ok := m[s]
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.Name())
		b.WriteByte('=')
		if needsQuotes(col) {
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(col, `"`, `""`))
			b.WriteByte('"')
		} else {
			b.WriteString(col)
		}
	}
	return b.String()
}

func needsQuotes(col string) bool {
	return col == "" || strings.ContainsAny(col, `,="`) || strings.TrimSpace(col) != col
}
