package evaluation

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

var day = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

func at(h, m int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func TestRealisedMatchesSessions(t *testing.T) {
	labels := []Label{
		{AthleteID: "a", SessionStart: at(9, 0), SessionEnd: at(10, 0), SweatRateLPerH: 1},
		{AthleteID: "a", SessionStart: at(14, 0), SweatRateLPerH: 3},
		{AthleteID: "a", SessionStart: at(12, 0), SweatRateLPerH: 2}, // out of order
	}
	preds := []Prediction{
		{AthleteID: "a", Time: at(9, 30), Version: "3", Value: 1.5},  // label 1
		{AthleteID: "a", Time: at(10, 30), Version: "3", Value: 9},   // after its end
		{AthleteID: "a", Time: at(13, 59), Version: "3", Value: 2.5}, // label 2, cut by 3
		{AthleteID: "a", Time: at(14, 0), Version: "3", Value: 3.5},  // label 3
		{AthleteID: "a", Time: at(20, 1), Version: "3", Value: 9},    // past 6 h
		{AthleteID: "a", Time: at(8, 59), Version: "3", Value: 9},    // before all
		{AthleteID: "b", Time: at(9, 30), Version: "3", Value: 9},    // no labels
	}
	for i := range preds {
		preds[i].Lower, preds[i].Upper = math.NaN(), math.NaN()
	}
	r, err := RealisedAccuracy(labels, preds, RealisedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Matched != 3 || len(r.Versions) != 1 {
		t.Fatalf("matched %d rows in %d versions, want 3 in 1", r.Matched, len(r.Versions))
	}
	v := r.Versions[0]
	// Every matched prediction is 0.5 above its own label.
	if v.Sessions != 3 || math.Abs(v.Metrics.MAE-0.5) > 1e-12 || v.Metrics.Coverage != nil {
		t.Errorf("version 3: %d sessions, MAE %v, coverage %v; want 3, 0.5, none",
			v.Sessions, v.Metrics.MAE, v.Metrics.Coverage)
	}

	if _, err := RealisedAccuracy(labels, preds[4:], RealisedOptions{}); !errors.Is(err,
		ErrNoRows) {
		t.Errorf("no match: %v, want ErrNoRows", err)
	}
}

func TestRealisedComparesArms(t *testing.T) {
	var labels []Label
	var preds []Prediction
	for s := range 40 {
		athlete := fmt.Sprintf("a%02d", s)
		y := 0.8 + float64(s%7)/10
		labels = append(labels, Label{AthleteID: athlete, SessionStart: at(9, 0),
			SweatRateLPerH: y})
		// Sessions alternate between the arms; version 10 errs four times as much.
		version, err := "9", 0.1
		if s%2 == 1 {
			version, err = "10", 0.4
		}
		for m := range 5 {
			e := err * (1 + float64(m%3)/10)
			preds = append(preds, Prediction{AthleteID: athlete, Time: at(9, 10*m),
				Version: version, Value: y + e, Lower: y - 1, Upper: y + 0.2})
		}
	}
	r, err := RealisedAccuracy(labels, preds, RealisedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Versions) != 2 || r.Versions[0].Version != "9" || r.Versions[1].Version != "10" {
		t.Fatalf("versions %+v, want 9 then 10", r.Versions)
	}
	if c := r.Versions[0].Metrics.Coverage; c == nil || *c != 1 {
		t.Errorf("version 9 coverage %v, want 1 (every label inside)", c)
	}
	if len(r.AB) != 1 || r.AB[0].Result == nil {
		t.Fatalf("A/B pairs %+v", r.AB)
	}
	ab := r.AB[0].Result
	if !ab.Conclusive || ab.Better != "a" || ab.A.Sessions != 20 || ab.Diff < 0.25 {
		t.Errorf("A/B: conclusive %v better %q, %d sessions in a, diff %v; want a "+
			"conclusive win for a over 20 sessions", ab.Conclusive, ab.Better,
			ab.A.Sessions, ab.Diff)
	}
	rows := r.Table()
	var realised, abRows int
	for _, row := range rows {
		switch row.Analysis {
		case AnalysisRealised:
			realised++
		case AnalysisAB:
			abRows++
			if row.Segment != "9 vs 10" {
				t.Errorf("A/B row segment %q, want \"9 vs 10\"", row.Segment)
			}
		}
	}
	if realised == 0 || abRows == 0 {
		t.Errorf("table has %d realised and %d A/B rows", realised, abRows)
	}
}

func TestReadLabelsFormats(t *testing.T) {
	jsonl := `{"athlete_id":"a","session_start":"2025-07-01T09:00:00Z",` +
		`"session_end":"2025-07-01T10:00:00Z","sweat_rate_l_per_h":1.25}
{"athlete_id":"b","session_start":"2025-07-01T11:00:00+02:00","sweat_rate_l_per_h":0.9}
`
	csvText := "\ufeffathlete_id,session_start,session_end,sweat_rate_l_per_h\n" +
		"a,2025-07-01T09:00:00Z,2025-07-01T10:00:00Z,1.25\n" +
		"b,2025-07-01T11:00:00+02:00,,0.9\n"
	fromJSON, err := ReadLabels(strings.NewReader(jsonl))
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := ReadLabels(strings.NewReader(csvText))
	if err != nil {
		t.Fatal(err)
	}
	if len(fromJSON) != 2 || len(fromCSV) != 2 {
		t.Fatalf("%d labels from JSON, %d from CSV; want 2 each", len(fromJSON), len(fromCSV))
	}
	for i := range fromJSON {
		a, b := fromJSON[i], fromCSV[i]
		if a.AthleteID != b.AthleteID || !a.SessionStart.Equal(b.SessionStart) ||
			!a.SessionEnd.Equal(b.SessionEnd) || a.SweatRateLPerH != b.SweatRateLPerH {
			t.Errorf("label %d: JSON %+v, CSV %+v", i, a, b)
		}
	}
	if !fromJSON[1].SessionStart.Equal(at(9, 0)) || !fromJSON[1].SessionEnd.IsZero() {
		t.Errorf("second label %+v: want a 09:00Z start and no end", fromJSON[1])
	}
}

func TestReadLabelsRejects(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"missing column", "athlete_id,sweat_rate_l_per_h\na,1\n", "session_start"},
		{"bad time", "athlete_id,session_start,sweat_rate_l_per_h\na,9am,1\n",
			"line 2: session_start"},
		{"bad rate", "athlete_id,session_start,sweat_rate_l_per_h\n" +
			"a,2025-07-01T09:00:00Z,lots\n", "sweat_rate_l_per_h"},
		{"negative rate", `{"athlete_id":"a","session_start":"2025-07-01T09:00:00Z",` +
			`"sweat_rate_l_per_h":-1}`, "outside"},
		{"no athlete", `{"session_start":"2025-07-01T09:00:00Z","sweat_rate_l_per_h":1}`,
			"athlete_id"},
		{"end before start", `{"athlete_id":"a","session_start":"2025-07-01T09:00:00Z",` +
			`"session_end":"2025-07-01T08:00:00Z","sweat_rate_l_per_h":1}`, "session_end"},
		{"broken json", `{"athlete_id":`, "line 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadLabels(strings.NewReader(tc.in))
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want ErrBadInput naming %q", err, tc.want)
			}
		})
	}
}

func TestReadPredictionsReplayLines(t *testing.T) {
	in := `{"time":"2025-07-01T09:05:00Z","athlete_id":"a","sweat_rate_l_per_h":1.1,` +
		`"sweat_rate_lower_l_per_h":0.8,"sweat_rate_upper_l_per_h":1.4,` +
		`"model_versions":{"sweat-rate":"3","anomaly":"1"},"alerts":[]}` + "\n\n" +
		`{"time":"2025-07-01T09:06:00Z","athlete_id":"a","sweat_rate_l_per_h":1.2,` +
		`"model_versions":{"sweat-rate":"4"}}`
	ps, err := ReadPredictions(strings.NewReader(in), "sweat-rate")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Version != "3" || ps[0].Lower != 0.8 || ps[0].Upper != 1.4 ||
		ps[1].Version != "4" || !math.IsNaN(ps[1].Lower) || !ps[1].Time.Equal(at(9, 6)) {
		t.Errorf("predictions %+v", ps)
	}
	_, err = ReadPredictions(strings.NewReader(in), "thermal-trajectory")
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("other model: %v, want ErrBadInput at line 1", err)
	}
}

func FuzzReadLabels(f *testing.F) {
	f.Add([]byte("athlete_id,session_start,sweat_rate_l_per_h\na,2025-07-01T09:00:00Z,1\n"))
	f.Add([]byte(`{"athlete_id":"a","session_start":"2025-07-01T09:00:00Z",` +
		`"sweat_rate_l_per_h":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		labels, err := ReadLabels(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, l := range labels {
			if l.check() != nil {
				t.Fatalf("ReadLabels returned an invalid label %+v", l)
			}
		}
		_, _ = RealisedAccuracy(labels, []Prediction{{AthleteID: "a", Time: at(9, 1),
			Version: "1", Value: 1}}, RealisedOptions{})
	})
}

func FuzzReadPredictions(f *testing.F) {
	f.Add([]byte(`{"time":"2025-07-01T09:05:00Z","athlete_id":"a","sweat_rate_l_per_h":1.1,` +
		`"model_versions":{"sweat-rate":"3"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ReadPredictions(strings.NewReader(string(data)), "sweat-rate")
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.AthleteID == "" || p.Version == "" {
				t.Fatalf("ReadPredictions returned %+v", p)
			}
		}
	})
}
