package evaluation

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrBadInput reports a labels or predictions file that cannot be read; the error
// names the line and the field.
var ErrBadInput = errors.New("bad input")

// Label is a measured outcome of one session: the mass-balance sweat rate of a
// post-session weigh-in.
type Label struct {
	AthleteID string `json:"athlete_id"`
	// SessionStart and SessionEnd bound the session; a zero SessionEnd means the
	// session lasts until the athlete's next labelled session or MaxSession.
	SessionStart time.Time `json:"session_start"`
	SessionEnd   time.Time `json:"session_end,omitzero"`
	// SweatRateLPerH is the measured sweat rate, L/h.
	SweatRateLPerH float64 `json:"sweat_rate_l_per_h"`
}

// Prediction is one logged sweat-rate prediction: whose, when, by which version
// (the A/B arm), and what it said.
type Prediction struct {
	AthleteID string
	Time      time.Time
	Version   string
	Value     float64
	// Lower and Upper bound the prediction interval; NaN when not logged.
	Lower, Upper float64
}

// The most lines a labels or predictions file may have, so that a damaged or hostile
// file cannot exhaust memory.
const maxInputLines = 10_000_000

// ReadLabels reads label events as JSON lines (one Label object a line) or as CSV
// with a header naming athlete_id, session_start, sweat_rate_l_per_h and optionally
// session_end; times are RFC 3339. The format is told by the first byte: '{' for
// JSON lines.
func ReadLabels(r io.Reader) ([]Label, error) {
	br := bufio.NewReader(r)
	first, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	var labels []Label
	switch first {
	case '{':
		labels, err = readLabelsJSON(br)
	case '[':
		return nil, fmt.Errorf("read labels: %w: a JSON array; write JSON lines, one "+
			"label object a line, or CSV", ErrBadInput)
	default:
		labels, err = readLabelsCSV(br)
	}
	if err != nil {
		return nil, err
	}
	for i, l := range labels {
		if err := l.check(); err != nil {
			return nil, fmt.Errorf("read labels: %w: label %d: %w", ErrBadInput, i+1, err)
		}
	}
	return labels, nil
}

// firstByte returns the first byte that is not white space, without consuming it;
// 0 for an empty input.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read labels: %w", err)
		}
		// White space and the bytes of a UTF-8 byte order mark are skipped.
		if strings.IndexByte(" \t\r\n\xef\xbb\xbf", b) < 0 {
			return b, br.UnreadByte()
		}
	}
}

// decodeLabelJSON decodes one JSON label strictly: an unknown key (a misspelt
// sweat_rate_l_per_h) or a missing or null sweat rate is an error, never a rate of
// zero.
func decodeLabelJSON(text []byte) (Label, error) {
	var raw struct {
		AthleteID    string    `json:"athlete_id"`
		SessionStart time.Time `json:"session_start"`
		SessionEnd   time.Time `json:"session_end"`
		SweatRate    *float64  `json:"sweat_rate_l_per_h"`
	}
	if err := checkKeys(text, "athlete_id", "session_start", "session_end",
		"sweat_rate_l_per_h"); err != nil {
		return Label{}, err
	}
	if err := json.Unmarshal(text, &raw); err != nil {
		return Label{}, err
	}
	if raw.SweatRate == nil {
		return Label{}, errors.New("sweat_rate_l_per_h is missing")
	}
	return Label{AthleteID: raw.AthleteID, SessionStart: raw.SessionStart,
		SessionEnd: raw.SessionEnd, SweatRateLPerH: *raw.SweatRate}, nil
}

// checkKeys reports a line that is not exactly one JSON object whose keys are among
// known, each at most once and spelt as given: encoding/json alone would take the
// last of a repeated key, match keys in any case and ignore what follows the object.
func checkKeys(text []byte, known ...string) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // an object's keys are strings, or Token fails
		switch {
		case !slices.Contains(known, key):
			return fmt.Errorf("unknown key %q (known: %s)", key, strings.Join(known, ", "))
		case seen[key]:
			return fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

func readLabelsJSON(r io.Reader) ([]Label, error) {
	var out []Label
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if line > maxInputLines {
			return nil, fmt.Errorf("read labels: %w: more than %d lines", ErrBadInput,
				maxInputLines)
		}
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		l, err := decodeLabelJSON(text)
		if err == nil {
			err = l.check()
		}
		if err != nil {
			return nil, fmt.Errorf("read labels: %w: line %d: %w", ErrBadInput, line, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read labels: %w: %w", ErrBadInput, err)
	}
	return out, nil
}

func readLabelsCSV(r io.Reader) ([]Label, error) {
	cr := csv.NewReader(r)
	// Every line has the header's number of fields: a decimal comma (1,2) or a stray
	// field is refused, never read as the label 1.
	cr.FieldsPerRecord = 0
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read labels: %w: header: %w", ErrBadInput, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"athlete_id", "session_start", "sweat_rate_l_per_h"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("read labels: %w: the CSV header lacks %s (it has %s)",
				ErrBadInput, need, strings.Join(header, ", "))
		}
	}

	var out []Label
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil || line > maxInputLines {
			return nil, fmt.Errorf("read labels: %w: line %d: %v", ErrBadInput, line, err)
		}
		l, err := labelFromCSV(rec, col)
		if err != nil {
			return nil, fmt.Errorf("read labels: %w: line %d: %w", ErrBadInput, line, err)
		}
		out = append(out, l)
	}
}

func labelFromCSV(rec []string, col map[string]int) (Label, error) {
	field := func(name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var l Label
	var err error
	l.AthleteID = field("athlete_id")
	if l.SessionStart, err = time.Parse(time.RFC3339, field("session_start")); err != nil {
		return l, fmt.Errorf("session_start: %w", err)
	}
	if s := field("session_end"); s != "" {
		if l.SessionEnd, err = time.Parse(time.RFC3339, s); err != nil {
			return l, fmt.Errorf("session_end: %w", err)
		}
	}
	if l.SweatRateLPerH, err = strconv.ParseFloat(field("sweat_rate_l_per_h"), 64); err != nil {
		return l, fmt.Errorf("sweat_rate_l_per_h: %w", err)
	}
	return l, nil
}

// check reports a label that cannot be matched or scored.
// MaxSessionLength bounds a labelled session: a weigh-in before and after spans one
// workout, not days.
const MaxSessionLength = 24 * time.Hour

func (l Label) check() error {
	switch {
	case l.AthleteID == "":
		return errors.New("athlete_id is empty")
	case l.SessionStart.IsZero():
		return errors.New("session_start is missing")
	case !l.SessionEnd.IsZero() && !l.SessionEnd.After(l.SessionStart):
		return errors.New("session_end is not after session_start")
	case !l.SessionEnd.IsZero() && l.SessionEnd.Sub(l.SessionStart) > MaxSessionLength:
		return fmt.Errorf("session_end is %s after session_start: want at most %s",
			l.SessionEnd.Sub(l.SessionStart).Round(time.Minute), MaxSessionLength)
	case !(l.SweatRateLPerH >= 0 && l.SweatRateLPerH <= 10):
		return fmt.Errorf("sweat_rate_l_per_h %v is outside [0, 10]", l.SweatRateLPerH)
	}
	return nil
}

// predictionLine is one line of a prediction log: the JSON lines hydrocast replay
// --output jsonl prints, of which the sweat-rate fields are read.
type predictionLine struct {
	Time          string            `json:"time"`
	AthleteID     string            `json:"athlete_id"`
	SweatRate     *float64          `json:"sweat_rate_l_per_h"`
	Lower         *float64          `json:"sweat_rate_lower_l_per_h"`
	Upper         *float64          `json:"sweat_rate_upper_l_per_h"`
	ModelVersions map[string]string `json:"model_versions"`
}

// ReadPredictions reads a prediction log of JSON lines, each with time (RFC 3339),
// athlete_id, sweat_rate_l_per_h, optionally sweat_rate_lower_l_per_h and
// sweat_rate_upper_l_per_h, and model_versions naming the version of each model
// family; model picks the family whose version is the line's arm. The lines of
// hydrocast replay --output jsonl have this shape.
func ReadPredictions(r io.Reader, model string) ([]Prediction, error) {
	var out []Prediction
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if line > maxInputLines {
			return nil, fmt.Errorf("read predictions: %w: more than %d lines", ErrBadInput,
				maxInputLines)
		}
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		p, err := predictionFromJSON(text, model)
		if err != nil {
			return nil, fmt.Errorf("read predictions: %w: line %d: %w", ErrBadInput, line, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read predictions: %w: %w", ErrBadInput, err)
	}
	return out, nil
}

func predictionFromJSON(text []byte, model string) (Prediction, error) {
	var pl predictionLine
	if err := json.Unmarshal(text, &pl); err != nil {
		return Prediction{}, err
	}
	t, err := time.Parse(time.RFC3339, pl.Time)
	if err != nil {
		return Prediction{}, fmt.Errorf("time: %w", err)
	}
	p := Prediction{AthleteID: pl.AthleteID, Time: t, Version: pl.ModelVersions[model],
		Lower: math.NaN(), Upper: math.NaN()}
	switch {
	case p.AthleteID == "":
		return p, errors.New("athlete_id is empty")
	case p.Version == "":
		return p, fmt.Errorf("model_versions names no version of %s", model)
	case pl.SweatRate == nil:
		return p, errors.New("sweat_rate_l_per_h is missing")
	}
	p.Value = *pl.SweatRate
	if pl.Lower != nil && pl.Upper != nil {
		p.Lower, p.Upper = *pl.Lower, *pl.Upper
	}
	return p, nil
}
