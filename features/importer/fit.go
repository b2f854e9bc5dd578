package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/muktihari/fit/decoder"
	"github.com/muktihari/fit/kit/datetime"
	"github.com/muktihari/fit/profile/basetype"
	"github.com/muktihari/fit/profile/typedef"
	"github.com/muktihari/fit/profile/untyped/fieldnum"
	"github.com/muktihari/fit/profile/untyped/mesgnum"
	"github.com/muktihari/fit/proto"

	"github.com/hydrocast/hydrocast/features"
)

// maxFITBytes bounds how much of a FIT input DecodeFIT holds in memory; a week-long
// activity recorded every second stays far below it.
const maxFITBytes = 256 << 20

// DecodeFIT reads a FIT file, or several chained into one, and returns one reading per
// record message that carries a time and at least one signal:
//
//	heart_rate                      → HeartRate (bpm)
//	temperature                     → SkinTemp (a watch's temperature, whole °C), or
//	                                  AmbientTemp from a Garmin Edge: a bike computer
//	                                  on the handlebar measures the air, not the rider
//	enhanced_speed, else speed      → Speed (m/s)
//	power                           → Power (W)
//	cadence + fractional_cadence    → Cadence (per minute)
//
// A field holding FIT's invalid value (0xFF heart rate, 0x7F temperature…) is missing.
// For running, walking and hiking FIT counts cadence in strides of one foot per minute;
// DecodeFIT doubles it into steps per minute, taking the sport from the session that
// contains the record. A part that names no sport keeps its cadence as recorded, with a
// warning.
//
// A wrong checksum yields a warning and the records as decoded. A file that ends early
// or turns to garbage yields the records before the fault and a warning; when no reading
// precedes the fault, DecodeFIT returns an error wrapping ErrMalformed.
func DecodeFIT(r io.Reader, opt Options) (Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFITBytes+1))
	if err != nil {
		return Result{}, fmt.Errorf("read fit: %w", err)
	}
	if len(data) > maxFITBytes {
		return Result{}, malformed("fit input is larger than %d bytes", maxFITBytes)
	}

	var res Result
	if w := fitChecksumWarning(data); w != "" {
		res.Warnings = append(res.Warnings, w)
	}

	// Checksums were checked above; decoding without them lets a part with a wrong
	// checksum hand over its records and lets the chain go on after it. Component
	// expansion is off because it recomputes enhanced_speed from speed in floating
	// point and now and then loses a millimetre per second; fitSpeed reads both.
	c := &fitCollector{athlete: opt.AthleteID, source: opt.sourceOr(FormatFIT)}
	dec := decoder.New(bytes.NewReader(data), decoder.WithMesgListener(c),
		decoder.WithBroadcastOnly(), decoder.WithIgnoreChecksum(),
		decoder.WithNoComponentExpansion())
	for part := 1; dec.Next(); part++ {
		c.startPart()
		_, err := dec.Decode()
		c.endPart(part)
		if err == nil {
			continue
		}
		if len(c.readings) == 0 {
			return Result{}, malformed("fit part %d: %w", part, err)
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("fit part %d is cut short or "+
			"damaged, records after the fault are lost: %v", part, err))
		break
	}

	res.Readings = c.readings
	res.Skipped = c.skipped
	res.Warnings = append(res.Warnings, c.warnings...)
	return finish(res, FormatFIT)
}

// fitChecksumWarning returns a warning when a header or file checksum of data does not
// match, and "" otherwise. Other faults are left to the decoding pass, which can say
// which records they cost.
func fitChecksumWarning(data []byte) string {
	seq, err := decoder.New(bytes.NewReader(data)).CheckIntegrity()
	if !errors.Is(err, decoder.ErrCRCChecksumMismatch) {
		return ""
	}
	return fmt.Sprintf("fit part %d: checksum mismatch, records kept as decoded: %v", seq+1, err)
}

// fitSession is the span and sport of one session message.
type fitSession struct {
	start, end time.Time
	sport      typedef.Sport
}

// fitCollector turns decoded messages into readings. Session messages usually follow
// the records they summarise, so readings wait in part until the part has been read.
type fitCollector struct {
	athlete, source string

	part      []features.Reading // readings of the current part, cadence as recorded
	sessions  []fitSession       // sessions of the current part
	partSport typedef.Sport      // from a sport or lap message, for records outside sessions
	// onBike is set when the part's file_id names a bike computer, whose temperature
	// sensor sits on the handlebar and measures the air.
	onBike bool

	readings []features.Reading
	skipped  int
	warnings []string
}

// OnMesg implements decoder.MesgListener.
func (c *fitCollector) OnMesg(m proto.Message) {
	switch m.Num {
	case mesgnum.FileId:
		c.onBike = isBikeComputer(&m)
	case mesgnum.Record:
		c.addRecord(&m)
	case mesgnum.Session:
		c.sessions = append(c.sessions, fitSession{
			start: fitTime(m.FieldValueByNum(fieldnum.SessionStartTime)),
			end:   fitTime(m.FieldValueByNum(fieldnum.SessionTimestamp)),
			sport: typedef.Sport(m.FieldValueByNum(fieldnum.SessionSport).Uint8()),
		})
	case mesgnum.Sport:
		c.noteSport(m.FieldValueByNum(fieldnum.SportSport))
	case mesgnum.Lap:
		c.noteSport(m.FieldValueByNum(fieldnum.LapSport))
	}
}

func (c *fitCollector) noteSport(v proto.Value) {
	if s := typedef.Sport(v.Uint8()); c.partSport == typedef.SportInvalid {
		c.partSport = s
	}
}

func (c *fitCollector) addRecord(m *proto.Message) {
	t := fitTime(m.FieldValueByNum(fieldnum.RecordTimestamp))
	if t.IsZero() {
		c.skipped++
		return
	}

	r := features.NewReading(c.athlete, c.source, t)
	if v := m.FieldValueByNum(fieldnum.RecordHeartRate).Uint8(); v != basetype.Uint8Invalid {
		r.Set(features.HeartRate, float64(v))
	}
	if v := m.FieldValueByNum(fieldnum.RecordTemperature).Int8(); v != basetype.Sint8Invalid {
		r.Set(features.SkinTemp, float64(v))
	}
	if v, ok := fitSpeed(m); ok {
		r.Set(features.Speed, v)
	}
	if v := m.FieldValueByNum(fieldnum.RecordPower).Uint16(); v != basetype.Uint16Invalid {
		r.Set(features.Power, float64(v))
	}
	if v, ok := fitCadence(m); ok {
		r.Set(features.Cadence, v)
	}

	if !hasSignal(&r) {
		c.skipped++
		return
	}
	c.part = append(c.part, r)
}

// fitTime converts a FIT date_time to UTC, or returns the zero time when the value is
// invalid or counts seconds since the device was switched on rather than a date.
func fitTime(v proto.Value) time.Time {
	u := v.Uint32()
	if u == basetype.Uint32Invalid || u < uint32(typedef.DateTimeMin) {
		return time.Time{}
	}
	return datetime.ToTime(u)
}

// fitSpeed returns the record's speed in m/s from enhanced_speed, the wider field, or
// else from speed.
//
// TODO: a record that holds its speed only in compressed_speed_distance, as early ANT+
// bike sensors wrote it, gets no speed, because component expansion is off; decoding
// that field's first 12 bits (1/100 m/s) here would recover it.
func fitSpeed(m *proto.Message) (float64, bool) {
	if v := m.FieldValueByNum(fieldnum.RecordEnhancedSpeed).Uint32(); v != basetype.Uint32Invalid {
		return float64(v) / 1000, true
	}
	if v := m.FieldValueByNum(fieldnum.RecordSpeed).Uint16(); v != basetype.Uint16Invalid {
		return float64(v) / 1000, true
	}
	return 0, false
}

// fitCadence returns cadence plus its fraction (in 1/128), as recorded.
func fitCadence(m *proto.Message) (float64, bool) {
	v := m.FieldValueByNum(fieldnum.RecordCadence).Uint8()
	if v == basetype.Uint8Invalid {
		return 0, false
	}
	cad := float64(v)
	f := m.FieldValueByNum(fieldnum.RecordFractionalCadence).Uint8()
	if f != basetype.Uint8Invalid {
		cad += float64(f) / 128
	}
	return cad, true
}

func (c *fitCollector) startPart() {
	c.part = c.part[:0]
	c.sessions = c.sessions[:0]
	c.partSport = typedef.SportInvalid
	c.onBike = false
}

// isBikeComputer reports whether a file_id message names a Garmin Edge, the bike
// computers whose temperature is the air's. Watches, worn on the wrist, report a
// temperature close to the skin's.
func isBikeComputer(m *proto.Message) bool {
	manufacturer := typedef.Manufacturer(m.FieldValueByNum(fieldnum.FileIdManufacturer).Uint16())
	if manufacturer != typedef.ManufacturerGarmin {
		return false
	}
	product := typedef.GarminProduct(m.FieldValueByNum(fieldnum.FileIdProduct).Uint16())
	return strings.HasPrefix(strings.ToLower(product.String()), "edge")
}

// endPart converts the part's cadence to steps where the sport counts strides and
// moves its readings to the result.
func (c *fitCollector) endPart(part int) {
	unknown := false
	for i := range c.part {
		r := &c.part[i]
		if r.Has(features.SkinTemp) && c.onBike {
			r.Values[features.AmbientTemp] = r.Values[features.SkinTemp]
			r.Values[features.SkinTemp] = features.Missing
		}
		if !r.Has(features.Cadence) {
			continue
		}
		switch sport := c.sportAt(r.Time); sport {
		case typedef.SportRunning, typedef.SportWalking, typedef.SportHiking:
			r.Values[features.Cadence] *= 2
		case typedef.SportInvalid:
			unknown = true
		}
	}
	if unknown {
		c.warnings = append(c.warnings, fmt.Sprintf("fit part %d names no sport: cadence kept "+
			"as recorded, which for a run or walk counts strides, not steps", part))
	}
	c.readings = append(c.readings, c.part...)
}

// sportAt returns the sport of the session spanning t; a record outside every session
// takes the first session's sport, then the part's sport or lap message.
func (c *fitCollector) sportAt(t time.Time) typedef.Sport {
	for _, s := range c.sessions {
		if !t.Before(s.start) && !t.After(s.end) {
			return s.sport
		}
	}
	if len(c.sessions) > 0 {
		return c.sessions[0].sport
	}
	return c.partSport
}

// hasSignal reports whether r carries at least one signal.
func hasSignal(r *features.Reading) bool {
	for s := range features.NumSignals {
		if r.Has(s) {
			return true
		}
	}
	return false
}
