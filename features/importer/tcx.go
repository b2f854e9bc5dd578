package importer

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// tcxTrackpoint holds the parts of a TCX Trackpoint that carry signals. Names match
// in any XML namespace, so the ActivityExtension's TPX element is found whatever
// prefix the file gives it.
type tcxTrackpoint struct {
	Time      string `xml:"Time"`
	HeartRate string `xml:"HeartRateBpm>Value"`
	Cadence   string `xml:"Cadence"`
	TPX       struct {
		Speed      string `xml:"Speed"`
		Watts      string `xml:"Watts"`
		RunCadence string `xml:"RunCadence"`
	} `xml:"Extensions>TPX"`
}

// DecodeTCX reads a Garmin TCX file and returns one reading per Trackpoint:
//
//	Time                     → the reading's time
//	HeartRateBpm/Value       → HeartRate
//	Extensions/TPX/Speed     → Speed (m/s)
//	Extensions/TPX/Watts     → Power
//	Cadence                  → Cadence (revolutions per minute, cycling)
//	Extensions/TPX/RunCadence → Cadence, doubled from strides into steps per minute
//
// A trackpoint without heart rate gives a reading with heart rate missing; one that
// carries no signal at all (only a time, or a position) is skipped and counted in
// Result.Skipped. A trackpoint whose time or value does not parse is an error naming
// its line.
func DecodeTCX(r io.Reader, opt Options) (Result, error) {
	var res Result
	source := opt.sourceOr(FormatTCX)
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, _ := dec.InputPos()
			return Result{}, malformed("tcx line %d: %w", line, err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local != "Trackpoint" {
			continue
		}

		line, _ := dec.InputPos()
		var tp tcxTrackpoint
		if err := dec.DecodeElement(&tp, &start); err != nil {
			return Result{}, malformed("tcx trackpoint at line %d: %w", line, err)
		}
		reading, err := tp.reading(opt.AthleteID, source)
		if err != nil {
			return Result{}, malformed("tcx trackpoint at line %d: %w", line, err)
		}
		if !hasSignal(&reading) {
			res.Skipped++
			continue
		}
		res.Readings = append(res.Readings, reading)
	}
	return finish(res, FormatTCX)
}

// reading converts the trackpoint; the error names the element that does not parse.
func (tp *tcxTrackpoint) reading(athlete, source string) (features.Reading, error) {
	text := strings.TrimSpace(tp.Time)
	if text == "" {
		return features.Reading{}, errors.New("no Time element")
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return features.Reading{}, fmt.Errorf("value %q of Time is not an RFC 3339 time", text)
	}
	r := features.NewReading(athlete, source, t.UTC())

	fields := []struct {
		name   string
		text   string
		signal features.Signal
		factor float64
	}{
		{"HeartRateBpm/Value", tp.HeartRate, features.HeartRate, 1},
		{"TPX/Speed", tp.TPX.Speed, features.Speed, 1},
		{"TPX/Watts", tp.TPX.Watts, features.Power, 1},
		{"Cadence", tp.Cadence, features.Cadence, 1},
		{"TPX/RunCadence", tp.TPX.RunCadence, features.Cadence, 2},
	}
	for _, f := range fields {
		text := strings.TrimSpace(f.text)
		if text == "" {
			continue
		}
		v, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return features.Reading{}, fmt.Errorf("value %q of %s is not a finite number",
				text, f.name)
		}
		r.Set(f.signal, v*f.factor)
	}
	return r, nil
}
