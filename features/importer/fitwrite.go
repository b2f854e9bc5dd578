package importer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/muktihari/fit/encoder"
	"github.com/muktihari/fit/kit/datetime"
	"github.com/muktihari/fit/profile/filedef"
	"github.com/muktihari/fit/profile/mesgdef"
	"github.com/muktihari/fit/profile/typedef"

	"github.com/hydrocast/hydrocast/features"
)

// WriteOptions describes the activity WriteFIT records.
type WriteOptions struct {
	// Sport is the activity's sport as FIT names it ("running", "cycling", "walking"…);
	// zero means "generic". For running, walking and hiking the Cadence signal (steps
	// per minute) is stored as FIT's strides per minute, half of it.
	Sport string

	// SerialNumber is the simulated device's serial number in the file_id message;
	// zero leaves it out.
	SerialNumber uint32
}

// ErrNotWritable is wrapped by WriteFIT's errors about readings a FIT activity cannot
// hold: none at all, out of time order, a time outside FIT's dates, or a value outside
// a record field's range.
var ErrNotWritable = errors.New("readings not writable as fit")

// The span of times a FIT date_time holds: smaller values count seconds since the
// device was switched on, and the largest is the invalid value.
var (
	fitEarliest = datetime.Epoch().Add(time.Duration(typedef.DateTimeMin) * time.Second)
	fitLatest   = datetime.Epoch().Add((math.MaxUint32 - 1) * time.Second)
)

// WriteFIT writes the readings as one FIT activity file: a file_id, start and stop
// timer events, one record per reading, one lap, one session and the activity message.
// Readings must be in time order, between 1998 and 2126; FIT keeps whole seconds and
// drops the fraction. Record fields take HeartRate, SkinTemp (as the device
// temperature), Speed, Power and Cadence; other signals have no record field and are
// left out, and so is a missing signal.
//
// FIT stores whole bpm, whole watts, mm/s and whole °C as a signed byte: each value is
// rounded to the nearest step, so a skin temperature of 33.6 °C reads back as 34 °C.
func WriteFIT(w io.Writer, readings []features.Reading, opt WriteOptions) error {
	if len(readings) == 0 {
		return fmt.Errorf("write fit: %w: no readings", ErrNotWritable)
	}
	sport := typedef.SportGeneric
	if opt.Sport != "" {
		if sport = typedef.SportFromString(opt.Sport); sport == typedef.SportInvalid {
			return fmt.Errorf("write fit: unknown sport %q", opt.Sport)
		}
	}

	act := filedef.NewActivity()
	first, last := readings[0].Time, readings[len(readings)-1].Time
	act.FileId.SetType(typedef.FileActivity).
		SetManufacturer(typedef.ManufacturerDevelopment).
		SetTimeCreated(first)
	if opt.SerialNumber != 0 {
		act.FileId.SetSerialNumber(opt.SerialNumber)
	}

	for i := range readings {
		t := readings[i].Time
		if i > 0 && t.Before(readings[i-1].Time) {
			return fmt.Errorf("write fit: reading %d: %w: time before the previous one",
				i, ErrNotWritable)
		}
		if t.Before(fitEarliest) || t.After(fitLatest) {
			return fmt.Errorf("write fit: reading %d: %w: time %s outside %s to %s",
				i, ErrNotWritable, t, fitEarliest.Format(time.DateOnly),
				fitLatest.Format(time.DateOnly))
		}
		rec, err := fitRecord(&readings[i], sport)
		if err != nil {
			return fmt.Errorf("write fit: reading %d: %w", i, err)
		}
		act.Records = append(act.Records, rec)
	}

	addFITSummary(act, sport, first, last)
	fit := act.ToFIT(nil)
	if err := encoder.New(w).Encode(&fit); err != nil {
		return fmt.Errorf("write fit: %w", err)
	}
	return nil
}

// addFITSummary adds the timer events, lap, session and activity messages that make a
// FIT activity file complete; the elapsed time equals the timer time since a simulated
// session never pauses.
func addFITSummary(act *filedef.Activity, sport typedef.Sport, first, last time.Time) {
	secs := last.Sub(first).Seconds()
	act.Events = append(act.Events,
		mesgdef.NewEvent(nil).SetTimestamp(first).
			SetEvent(typedef.EventTimer).SetEventType(typedef.EventTypeStart),
		mesgdef.NewEvent(nil).SetTimestamp(last).
			SetEvent(typedef.EventTimer).SetEventType(typedef.EventTypeStopAll),
	)
	act.Laps = append(act.Laps, mesgdef.NewLap(nil).
		SetTimestamp(last).SetStartTime(first).SetSport(sport).
		SetEvent(typedef.EventLap).SetEventType(typedef.EventTypeStop).
		SetTotalElapsedTimeScaled(secs).SetTotalTimerTimeScaled(secs))
	act.Sessions = append(act.Sessions, mesgdef.NewSession(nil).
		SetTimestamp(last).SetStartTime(first).SetSport(sport).
		SetEvent(typedef.EventSession).SetEventType(typedef.EventTypeStop).
		SetTotalElapsedTimeScaled(secs).SetTotalTimerTimeScaled(secs).
		SetFirstLapIndex(0).SetNumLaps(1))
	act.Activity = mesgdef.NewActivity(nil).
		SetTimestamp(last).SetType(typedef.ActivityManual).SetNumSessions(1).
		SetEvent(typedef.EventActivity).SetEventType(typedef.EventTypeStop).
		SetTotalTimerTimeScaled(secs)
}

// fitRecord converts one reading into a record message, rounding each value to the
// field's resolution.
func fitRecord(r *features.Reading, sport typedef.Sport) (*mesgdef.Record, error) {
	rec := mesgdef.NewRecord(nil).SetTimestamp(r.Time)

	if v, ok := r.Get(features.HeartRate); ok {
		u, err := fitUnsigned(v, 1, math.MaxUint8-1, features.HeartRate)
		if err != nil {
			return nil, err
		}
		rec.SetHeartRate(uint8(u))
	}
	if v, ok := r.Get(features.SkinTemp); ok {
		t := math.Round(v)
		if !(t >= math.MinInt8 && t < math.MaxInt8) {
			return nil, fitRangeError(features.SkinTemp, v)
		}
		rec.SetTemperature(int8(t))
	}
	if v, ok := r.Get(features.Speed); ok {
		u, err := fitUnsigned(v, 1000, math.MaxUint32-1, features.Speed)
		if err != nil {
			return nil, err
		}
		rec.SetEnhancedSpeed(uint32(u))
		if u < math.MaxUint16 {
			rec.SetSpeed(uint16(u)) // for readers that know only the older field
		}
	}
	if v, ok := r.Get(features.Power); ok {
		u, err := fitUnsigned(v, 1, math.MaxUint16-1, features.Power)
		if err != nil {
			return nil, err
		}
		rec.SetPower(uint16(u))
	}
	if v, ok := r.Get(features.Cadence); ok {
		if err := setFITCadence(rec, v, sport); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// setFITCadence stores cadence as whole revolutions plus 1/128 fractions, halving steps
// into strides for the sports that count them so.
func setFITCadence(rec *mesgdef.Record, v float64, sport typedef.Sport) error {
	switch sport {
	case typedef.SportRunning, typedef.SportWalking, typedef.SportHiking:
		v /= 2
	}
	u, err := fitUnsigned(v, 128, 128*(math.MaxUint8-1)+127, features.Cadence)
	if err != nil {
		return err
	}
	rec.SetCadence(uint8(u / 128)).SetFractionalCadence(uint8(u % 128))
	return nil
}

// fitUnsigned returns v·scale rounded, or an error when it falls outside 0 to max
// (max stays below the field's invalid value).
func fitUnsigned(v, scale float64, max uint64, s features.Signal) (uint64, error) {
	u := math.Round(v * scale)
	if !(u >= 0 && u <= float64(max)) {
		return 0, fitRangeError(s, v)
	}
	return uint64(u), nil
}

func fitRangeError(s features.Signal, v float64) error {
	return fmt.Errorf("%s %g: %w: outside the fit field's range", s.Name(), v, ErrNotWritable)
}
