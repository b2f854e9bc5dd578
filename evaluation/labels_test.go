package evaluation

import (
	"errors"
	"strings"
	"testing"
)

// TestReadLabelsJSONStrict refuses JSON labels that would otherwise become a sweat
// rate of zero or an endless session, naming the line.
func TestReadLabelsJSONStrict(t *testing.T) {
	for name, line := range map[string]string{
		"missing rate": `{"athlete_id":"a","session_start":"2026-07-01T08:00:00Z"}`,
		"null rate": `{"athlete_id":"a","session_start":"2026-07-01T08:00:00Z",` +
			`"sweat_rate_l_per_h":null}`,
		"misspelt key": `{"athlete_id":"a","session_start":"2026-07-01T08:00:00Z",` +
			`"sweat_rate":1.4}`,
		"century session": `{"athlete_id":"a","session_start":"2026-07-01T08:00:00Z",` +
			`"session_end":"2126-07-01T08:00:00Z","sweat_rate_l_per_h":1.4}`,
		"repeated key": `{"athlete_id":"a","session_start":"2026-07-01T08:00:00Z",` +
			`"sweat_rate_l_per_h":1.2,"sweat_rate_l_per_h":3}`,
		"key in another case": `{"Athlete_ID":"a","session_start":"2026-07-01T08:00:00Z",` +
			`"sweat_rate_l_per_h":1.2}`,
		"second value on the line": `{"athlete_id":"a","session_start":` +
			`"2026-07-01T08:00:00Z","sweat_rate_l_per_h":1.2} {"x":1}`,
		"not an object": `{"athlete_id":"a"`,
	} {
		input := `{"athlete_id":"a","session_start":"2026-06-01T08:00:00Z",` +
			`"sweat_rate_l_per_h":1.2}` + "\n" + line + "\n"
		_, err := ReadLabels(strings.NewReader(input))
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: error %v, want ErrBadInput naming line 2", name, err)
		}
	}
}

// TestReadLabelsCSVFieldCount refuses a CSV line with more or fewer fields than the
// header, naming the line: a decimal comma must not turn 1,2 L/h into 1.
func TestReadLabelsCSVFieldCount(t *testing.T) {
	const header = "athlete_id,session_start,sweat_rate_l_per_h\n"
	good := "a,2026-06-01T08:00:00Z,1.2\n"
	for name, line := range map[string]string{
		"decimal comma": "a,2026-07-01T08:00:00Z,1,2",
		"stray field":   "a,2026-07-01T08:00:00Z,1.2,x",
		"missing field": "a,2026-07-01T08:00:00Z",
	} {
		_, err := ReadLabels(strings.NewReader(header + good + line + "\n"))
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "line 3") {
			t.Errorf("%s: error %v, want ErrBadInput naming line 3", name, err)
		}
	}
	labels, err := ReadLabels(strings.NewReader(header + good))
	if err != nil || len(labels) != 1 || labels[0].SweatRateLPerH != 1.2 {
		t.Errorf("good file: %+v, %v", labels, err)
	}
}

// TestReadLabelsJSONArray says what to write instead of a JSON array.
func TestReadLabelsJSONArray(t *testing.T) {
	_, err := ReadLabels(strings.NewReader(`[{"athlete_id":"a"}]`))
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "JSON lines") {
		t.Errorf("error %v, want ErrBadInput naming JSON lines", err)
	}
}
