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
	} {
		input := `{"athlete_id":"a","session_start":"2026-06-01T08:00:00Z",` +
			`"sweat_rate_l_per_h":1.2}` + "\n" + line + "\n"
		_, err := ReadLabels(strings.NewReader(input))
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: error %v, want ErrBadInput naming line 2", name, err)
		}
	}
}
