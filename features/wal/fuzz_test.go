package wal

import (
	"testing"

	"github.com/hydrocast/hydrocast/features"
)

func FuzzDecodeRecord(f *testing.F) {
	r := hr("a1", 12, 150)
	r.Set(features.FluidIntake, 200)
	f.Add(AppendReading(nil, &r))
	f.Add(AppendDelete(nil, "athlete-3"))
	f.Add([]byte{byte(KindReading), 0, 0, 1, 2, 0xff, 0x07})
	f.Fuzz(func(t *testing.T, payload []byte) {
		var rec Record
		if err := DecodeRecord(payload, &rec); err != nil {
			return
		}
		// What decodes encodes back to a payload that decodes to the same record.
		var again []byte
		switch rec.Kind {
		case KindReading:
			again = AppendReading(nil, &rec.Reading)
		case KindDelete:
			again = AppendDelete(nil, rec.AthleteID)
		default:
			t.Fatalf("decoded kind %d", rec.Kind)
		}
		var rec2 Record
		if err := DecodeRecord(again, &rec2); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if rec2.Kind != rec.Kind || rec2.AthleteID != rec.AthleteID {
			t.Fatalf("round trip changed %+v into %+v", rec, rec2)
		}
		assertSameReading(t, &rec2.Reading, &rec.Reading)
	})
}

func FuzzScanSegment(f *testing.F) {
	var seg []byte
	for i := range 4 {
		r := hr("a1", i, 120)
		seg = appendFrame(seg, AppendReading(nil, &r))
	}
	seg = appendFrame(seg, AppendDelete(nil, "a1"))
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add(append(seg[:20:20], seg[40:]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		prev := int64(0)
		end, dmg := scanFrames(data, 0, func(end int64, rec *Record) {
			if end <= prev || end > int64(len(data)) {
				t.Fatalf("record ends at %d after %d, data %d bytes", end, prev, len(data))
			}
			prev = end
		})
		if end != prev {
			t.Fatalf("scan stopped at %d, last record ended at %d", end, prev)
		}
		if dmg == nil {
			if end != int64(len(data)) {
				t.Fatalf("clean scan stopped at %d of %d", end, len(data))
			}
			return
		}
		if dmg.offset != end || dmg.reason == "" {
			t.Fatalf("damage %+v at the end of the good records, %d", dmg, end)
		}
		if dmg.resume < 0 {
			return
		}
		// Past an intact frame that does not decode, or at the next intact frame.
		if payload, reason := frameAt(data, dmg.offset); reason == "" {
			if want := dmg.offset + frameHeaderSize + int64(len(payload)); dmg.resume != want {
				t.Fatalf("resume %d after an intact frame ending at %d", dmg.resume, want)
			}
		} else if _, reason := frameAt(data, dmg.resume); reason != "" {
			t.Fatalf("resume %d is no intact frame: %s", dmg.resume, reason)
		}
	})
}
