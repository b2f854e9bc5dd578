package importer_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
)

// tcxDoc wraps trackpoints in a TCX document with the namespaces Garmin writes.
func tcxDoc(trackpoints ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
  xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">
 <Activities><Activity Sport="Running"><Id>2025-07-14T09:30:00Z</Id>
  <Lap StartTime="2025-07-14T09:30:00Z"><Track>
` + strings.Join(trackpoints, "\n") + `
  </Track></Lap>
 </Activity></Activities>
</TrainingCenterDatabase>`
}

func TestDecodeTCX(t *testing.T) {
	hr, speed, power, cad := features.HeartRate, features.Speed, features.Power, features.Cadence
	cases := []struct {
		name    string
		doc     string
		want    []features.Reading
		skipped int
	}{{
		name: "heart rate and extension speed",
		doc: tcxDoc(`<Trackpoint><Time>2025-07-14T09:30:00Z</Time>
			<HeartRateBpm><Value>62</Value></HeartRateBpm>
			<Extensions><ns3:TPX><ns3:Speed>2.75</ns3:Speed></ns3:TPX></Extensions>
			</Trackpoint>`),
		want: []features.Reading{at(0, sig{hr, 62}, sig{speed, 2.75})},
	}, {
		name: "without heart rate the reading has it missing",
		doc: tcxDoc(`<Trackpoint><Time>2025-07-14T09:30:05Z</Time>
			<Extensions><TPX xmlns="http://www.garmin.com/xmlschemas/ActivityExtension/v2">
			<Speed>3</Speed><Watts>210</Watts></TPX></Extensions></Trackpoint>`),
		want: []features.Reading{at(5, sig{speed, 3}, sig{power, 210})},
	}, {
		name: "a trackpoint with only time and position is skipped",
		doc: tcxDoc(
			`<Trackpoint><Time>2025-07-14T09:30:01Z</Time>
			<Position><LatitudeDegrees>35.9</LatitudeDegrees></Position></Trackpoint>`,
			`<Trackpoint><Time>2025-07-14T09:30:02Z</Time>
			<HeartRateBpm><Value>70</Value></HeartRateBpm></Trackpoint>`),
		want:    []features.Reading{at(2, sig{hr, 70})},
		skipped: 1,
	}, {
		name: "run cadence doubles into steps, bike cadence stays",
		doc: tcxDoc(
			`<Trackpoint><Time>2025-07-14T09:30:03Z</Time><Cadence>88</Cadence></Trackpoint>`,
			`<Trackpoint><Time>2025-07-14T09:30:04Z</Time>
			<Extensions><ns3:TPX><ns3:RunCadence>86</ns3:RunCadence></ns3:TPX></Extensions>
			</Trackpoint>`),
		want: []features.Reading{at(3, sig{cad, 88}), at(4, sig{cad, 172})},
	}, {
		name: "out of order trackpoints come back sorted, offsets become UTC",
		doc: tcxDoc(
			`<Trackpoint><Time>2025-07-14T11:30:09+02:00</Time>
			<HeartRateBpm><Value>90</Value></HeartRateBpm></Trackpoint>`,
			`<Trackpoint><Time>2025-07-14T09:30:08.000Z</Time>
			<HeartRateBpm><Value>89</Value></HeartRateBpm></Trackpoint>`),
		want: []features.Reading{at(8, sig{hr, 89}), at(9, sig{hr, 90})},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := importer.DecodeTCX(strings.NewReader(tc.doc), testOpt)
			if err != nil {
				t.Fatalf("DecodeTCX: %v", err)
			}
			if res.Skipped != tc.skipped || res.Format != importer.FormatTCX {
				t.Errorf("skipped %d, format %q; want %d, %q",
					res.Skipped, res.Format, tc.skipped, importer.FormatTCX)
			}
			sameReadings(t, res.Readings, tc.want, 1e-9)
			for _, r := range res.Readings {
				if r.Time.Location().String() != "UTC" {
					t.Errorf("time %s is not in UTC", r.Time)
				}
			}
		})
	}
}

func TestDecodeTCXErrors(t *testing.T) {
	cases := []struct {
		name     string
		doc      string
		sentinel error
		mention  string // part of the error text
	}{
		{"bad time", tcxDoc(`<Trackpoint><Time>yesterday</Time></Trackpoint>`),
			importer.ErrMalformed, "line 6"},
		{"no time", tcxDoc(`<Trackpoint><HeartRateBpm><Value>1</Value></HeartRateBpm>
			</Trackpoint>`),
			importer.ErrMalformed, "no Time"},
		{"heart rate not a number", tcxDoc(`<Trackpoint><Time>2025-07-14T09:30:00Z</Time>
			<HeartRateBpm><Value>fast</Value></HeartRateBpm></Trackpoint>`),
			importer.ErrMalformed, "HeartRateBpm/Value"},
		{"speed not finite", tcxDoc(`<Trackpoint><Time>2025-07-14T09:30:00Z</Time>
			<Extensions><TPX><Speed>NaN</Speed></TPX></Extensions></Trackpoint>`),
			importer.ErrMalformed, "TPX/Speed"},
		{"broken xml", tcxDoc(`<Trackpoint><Time>2025-07-14T09:30:00Z</Trackpoint>`),
			importer.ErrMalformed, "line"},
		{"no trackpoints", tcxDoc(), importer.ErrNoReadings, "tcx"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importer.DecodeTCX(strings.NewReader(tc.doc), testOpt)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.sentinel, tc.mention)
			}
		})
	}
}
