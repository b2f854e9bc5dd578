package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// ErrBadRecord is returned by DecodeRecord for a payload that is not a record.
var ErrBadRecord = errors.New("malformed wal record")

// Kind says what a record holds; it is the payload's first byte.
type Kind uint8

// The kinds of records (see the package documentation for their encoding).
const (
	// KindReading is a reading offered to the store.
	KindReading Kind = 1
	// KindDelete is the deletion of an athlete.
	KindDelete Kind = 2
)

// Record is one decoded log record.
type Record struct {
	Kind Kind

	// Reading is the reading of a KindReading record; its Time is in UTC.
	Reading features.Reading

	// AthleteID is the athlete of a KindDelete record.
	AthleteID string
}

// AppendReading appends the payload of a KindReading record of r to b.
func AppendReading(b []byte, r *features.Reading) []byte {
	b = append(b, byte(KindReading))
	b = appendString(b, r.AthleteID)
	b = appendString(b, r.Source)
	b = binary.AppendVarint(b, r.Time.Unix())
	b = binary.AppendUvarint(b, uint64(r.Time.Nanosecond()))

	var mask uint64
	for i, v := range r.Values {
		if !math.IsNaN(v) {
			mask |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, mask)
	for _, v := range r.Values {
		if !math.IsNaN(v) {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b
}

// AppendDelete appends the payload of a KindDelete record to b.
func AppendDelete(b []byte, athleteID string) []byte {
	return appendString(append(b, byte(KindDelete)), athleteID)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// DecodeRecord decodes a payload written by AppendReading or AppendDelete into rec.
// It fails with ErrBadRecord for anything else, trailing bytes included.
func DecodeRecord(payload []byte, rec *Record) error {
	d := recordReader{b: payload}
	*rec = Record{Kind: Kind(d.byte())}
	switch rec.Kind {
	case KindReading:
		d.reading(&rec.Reading)
	case KindDelete:
		rec.AthleteID = d.string()
	default:
		d.fail(fmt.Sprintf("unknown kind %d", rec.Kind))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d bytes after the record", len(d.b)))
	}
	return d.err
}

// recordReader decodes a payload; the first error sticks.
type recordReader struct {
	b   []byte
	err error
}

func (d *recordReader) fail(reason string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrBadRecord, reason)
	}
}

func (d *recordReader) byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordReader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordReader) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string past the end")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *recordReader) reading(r *features.Reading) {
	r.AthleteID = d.string()
	r.Source = d.string()
	sec, nsec := d.varint(), d.uvarint()
	if nsec >= uint64(time.Second) {
		d.fail("nanoseconds over a second")
	}
	r.Time = time.Unix(sec, int64(nsec)).UTC()

	mask := d.uvarint()
	if mask >= 1<<features.NumSignals {
		d.fail(fmt.Sprintf("unknown signals in mask %#x", mask))
		return
	}
	for i := range r.Values {
		r.Values[i] = math.NaN()
		if mask&(1<<i) == 0 {
			continue
		}
		if len(d.b) < 8 {
			d.fail("truncated value")
			return
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		if math.IsNaN(v) {
			d.fail("NaN value marked present")
		}
		r.Values[i] = v
		d.b = d.b[8:]
	}
}
