package importer_test

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muktihari/fit/encoder"
	"github.com/muktihari/fit/kit/datetime"
	"github.com/muktihari/fit/profile/factory"
	"github.com/muktihari/fit/profile/typedef"
	"github.com/muktihari/fit/profile/untyped/fieldnum"
	"github.com/muktihari/fit/profile/untyped/mesgnum"
	"github.com/muktihari/fit/proto"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
)

func TestFITRoundTrip(t *testing.T) {
	hr, temp, speed := features.HeartRate, features.SkinTemp, features.Speed
	power, cad := features.Power, features.Cadence
	cases := []struct {
		name string
		opt  importer.WriteOptions
		in   []features.Reading
		want []features.Reading // what FIT's resolution leaves of in
	}{{
		name: "every signal at its resolution",
		in: []features.Reading{
			at(0, sig{hr, 142}, sig{temp, 33}, sig{speed, 3.25}, sig{power, 250}, sig{cad, 90}),
			at(1, sig{hr, 143.4}, sig{temp, 33.6}, sig{speed, 3.2567}, sig{power, 249.5}),
			at(2, sig{hr, 143.6}, sig{temp, 33.4}, sig{speed, 0}, sig{cad, 90.5}),
		},
		want: []features.Reading{
			at(0, sig{hr, 142}, sig{temp, 33}, sig{speed, 3.25}, sig{power, 250}, sig{cad, 90}),
			at(1, sig{hr, 143}, sig{temp, 34}, sig{speed, 3.257}, sig{power, 250}),
			at(2, sig{hr, 144}, sig{temp, 33}, sig{speed, 0}, sig{cad, 90.5}),
		},
	}, {
		name: "missing signals stay missing",
		in: []features.Reading{
			at(0, sig{hr, 120}), at(5, sig{temp, -3.4}), at(9, sig{power, 0}),
		},
		want: []features.Reading{at(0, sig{hr, 120}), at(5, sig{temp, -3}), at(9, sig{power, 0})},
	}, {
		name: "running cadence travels as strides",
		opt:  importer.WriteOptions{Sport: "running", SerialNumber: 42},
		in: []features.Reading{
			at(0, sig{cad, 171}), at(1, sig{cad, 172}), at(2, sig{cad, 60.25}),
		},
		want: []features.Reading{
			at(0, sig{cad, 171}), at(1, sig{cad, 172}), at(2, sig{cad, 60.25}),
		},
	}, {
		name: "signals without a record field are left out",
		in: []features.Reading{
			at(0, sig{hr, 99}, sig{features.CoreTemp, 37.2}, sig{features.Humidity, 40}),
		},
		want: []features.Reading{at(0, sig{hr, 99})},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := encodeFIT(t, tc.in, tc.opt)
			res, err := importer.DecodeFIT(bytes.NewReader(data), testOpt)
			if err != nil {
				t.Fatalf("DecodeFIT: %v", err)
			}
			if len(res.Warnings) != 0 || res.Format != importer.FormatFIT {
				t.Errorf("warnings %q, format %q; want none, %q",
					res.Warnings, res.Format, importer.FormatFIT)
			}
			sameReadings(t, res.Readings, tc.want, 1e-9)
		})
	}
}

// rawFIT encodes the messages as they are, invalid values included, as a device that
// writes every field of its definition does.
func rawFIT(t *testing.T, mesgs ...proto.Message) []byte {
	t.Helper()
	fileID := proto.Message{Num: mesgnum.FileId, Fields: []proto.Field{
		factory.CreateField(mesgnum.FileId, fieldnum.FileIdType).
			WithValue(uint8(typedef.FileActivity)),
	}}
	var buf bytes.Buffer
	enc := encoder.New(&buf, encoder.WithMessageValidator(
		encoder.NewMessageValidator(encoder.ValidatorWithPreserveInvalidValues())))
	fit := proto.FIT{Messages: append([]proto.Message{fileID}, mesgs...)}
	if err := enc.Encode(&fit); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}

// rawRecord returns a record message sec seconds after t0 with the given fields.
func rawRecord(sec int, fields ...proto.Field) proto.Message {
	ts := factory.CreateField(mesgnum.Record, fieldnum.RecordTimestamp).
		WithValue(datetime.ToUint32(at(sec).Time))
	return proto.Message{Num: mesgnum.Record, Fields: append([]proto.Field{ts}, fields...)}
}

func recordField(num byte, v any) proto.Field {
	return factory.CreateField(mesgnum.Record, num).WithValue(v)
}

func TestDecodeFITInvalidValuesAreMissing(t *testing.T) {
	data := rawFIT(t,
		rawRecord(0,
			recordField(fieldnum.RecordHeartRate, uint8(0xFF)),
			recordField(fieldnum.RecordTemperature, int8(0x7F)),
			recordField(fieldnum.RecordSpeed, uint16(2500)),
			recordField(fieldnum.RecordPower, uint16(0xFFFF)),
			recordField(fieldnum.RecordCadence, uint8(0xFF))),
		rawRecord(1,
			recordField(fieldnum.RecordHeartRate, uint8(151)),
			recordField(fieldnum.RecordTemperature, int8(-5)),
			recordField(fieldnum.RecordSpeed, uint16(0xFFFF)),
			recordField(fieldnum.RecordPower, uint16(310))),
		rawRecord(2,
			recordField(fieldnum.RecordHeartRate, uint8(0xFF)),
			recordField(fieldnum.RecordTemperature, int8(0x7F))),
		rawRecord(3, recordField(fieldnum.RecordPositionLat, int32(100))),
	)
	res, err := importer.DecodeFIT(bytes.NewReader(data), testOpt)
	if err != nil {
		t.Fatalf("DecodeFIT: %v", err)
	}
	want := []features.Reading{
		at(0, sig{features.Speed, 2.5}),
		at(1, sig{features.HeartRate, 151}, sig{features.SkinTemp, -5}, sig{features.Power, 310}),
	}
	sameReadings(t, res.Readings, want, 1e-9)
	if res.Skipped != 2 {
		t.Errorf("Skipped = %d, want 2 (a record of invalid values, one with position only)",
			res.Skipped)
	}
}

func TestDecodeFITCadenceWithoutSport(t *testing.T) {
	data := rawFIT(t,
		rawRecord(0, recordField(fieldnum.RecordCadence, uint8(85)),
			recordField(fieldnum.RecordFractionalCadence, uint8(64))),
	)
	res, err := importer.DecodeFIT(bytes.NewReader(data), testOpt)
	if err != nil {
		t.Fatalf("DecodeFIT: %v", err)
	}
	sameReadings(t, res.Readings, []features.Reading{at(0, sig{features.Cadence, 85.5})}, 1e-9)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "names no sport") {
		t.Errorf("warnings = %q, want one about the missing sport", res.Warnings)
	}
}

func TestDecodeFITChained(t *testing.T) {
	first, second := session(30), session(90)[60:]
	run := encodeFIT(t, first, importer.WriteOptions{Sport: "running"})
	ride := encodeFIT(t, second, importer.WriteOptions{Sport: "rowing"})

	res, err := importer.DecodeFIT(bytes.NewReader(append(run, ride...)), testOpt)
	if err != nil {
		t.Fatalf("DecodeFIT: %v", err)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", res.Warnings)
	}
	sameReadings(t, res.Readings, append(first, second...), 5e-4)
}

func TestDecodeFITDamaged(t *testing.T) {
	readings := session(200)
	good := encodeFIT(t, readings, importer.WriteOptions{Sport: "rowing"})
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 0xFF

	cases := []struct {
		name    string
		data    []byte
		all     bool   // every reading survives, not only a prefix
		warning string // part of the warning expected; "" for an error
	}{
		{"file checksum wrong", badCRC, true, "checksum mismatch"},
		{"cut in the middle", good[:len(good)/2], false, "cut short"},
		{"cut before the checksum", good[:len(good)-2], true, "cut short"},
		{"garbage after the file", append(bytes.Clone(good), "garbage!"...), true, "part 2"},
		{"cut inside the header", good[:10], false, ""},
		{"cut right after the header", good[:14], false, ""},
		{"not fit at all", []byte("<TrainingCenterDatabase/>"), false, ""},
		{"empty", nil, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := importer.DecodeFIT(bytes.NewReader(tc.data), testOpt)
			if tc.warning == "" {
				if !errors.Is(err, importer.ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeFIT: %v", err)
			}
			if !slices.ContainsFunc(res.Warnings, func(w string) bool {
				return strings.Contains(w, tc.warning)
			}) {
				t.Errorf("warnings = %q, want one containing %q", res.Warnings, tc.warning)
			}
			n := len(res.Readings)
			if tc.all && n != len(readings) || !tc.all && (n == 0 || n >= len(readings)) {
				t.Fatalf("got %d of %d readings (all expected: %t)", n, len(readings), tc.all)
			}
			sameReadings(t, res.Readings, readings[:n], 5e-4)
		})
	}
}

func TestDecodeFITNoRecords(t *testing.T) {
	_, err := importer.DecodeFIT(bytes.NewReader(rawFIT(t)), testOpt)
	if !errors.Is(err, importer.ErrNoReadings) {
		t.Fatalf("err = %v, want ErrNoReadings", err)
	}
}

func TestWriteFITRejects(t *testing.T) {
	cases := []struct {
		name     string
		readings []features.Reading
		opt      importer.WriteOptions
		sentinel error // nil: any error
	}{
		{"no readings", nil, importer.WriteOptions{}, importer.ErrNotWritable},
		{"out of order", []features.Reading{at(5, sig{features.HeartRate, 90}),
			at(4, sig{features.HeartRate, 91})}, importer.WriteOptions{}, importer.ErrNotWritable},
		{"heart rate beyond a byte", []features.Reading{at(0, sig{features.HeartRate, 255})},
			importer.WriteOptions{}, importer.ErrNotWritable},
		{"temperature beyond a signed byte",
			[]features.Reading{at(0, sig{features.SkinTemp, 127})},
			importer.WriteOptions{}, importer.ErrNotWritable},
		{"negative speed", []features.Reading{at(0, sig{features.Speed, -1})},
			importer.WriteOptions{}, importer.ErrNotWritable},
		{"infinite power", []features.Reading{at(0, sig{features.Power, math.Inf(1)})},
			importer.WriteOptions{}, importer.ErrNotWritable},
		{"time before FIT's dates", []features.Reading{features.NewReading("a", "b",
			time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC))}, importer.WriteOptions{},
			importer.ErrNotWritable},
		{"unknown sport", session(1), importer.WriteOptions{Sport: "quidditch"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := importer.WriteFIT(&bytes.Buffer{}, tc.readings, tc.opt)
			if err == nil || tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
		})
	}
}

func BenchmarkDecodeFIT(b *testing.B) {
	data := encodeFIT(b, session(3600), importer.WriteOptions{Sport: "running"})
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := importer.DecodeFIT(bytes.NewReader(data), testOpt); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecodeFITWatchTemperatureIsSkinOnARide(t *testing.T) {
	// The writer names no Garmin Edge, so even on a ride the device is a watch and its
	// temperature the skin's (the real Edge 500 ride in the acceptance test goes to
	// AmbientTemp).
	readings := session(10)
	data := encodeFIT(t, readings, importer.WriteOptions{Sport: "cycling"})

	res, err := importer.DecodeFIT(bytes.NewReader(data), testOpt)
	if err != nil {
		t.Fatalf("DecodeFIT: %v", err)
	}
	for i, r := range res.Readings {
		want := math.Round(readings[i].Values[features.SkinTemp])
		if r.Has(features.AmbientTemp) || r.Values[features.SkinTemp] != want {
			t.Errorf("reading %d: skin %v, ambient %v; want skin %v and no ambient",
				i, r.Values[features.SkinTemp], r.Values[features.AmbientTemp], want)
		}
	}
}
