package wire

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
)

// TestFromProto sets each signal's wire field, found by the signal's name,
// and checks that exactly that signal arrives.
func TestFromProto(t *testing.T) {
	at := time.Date(2025, 7, 14, 9, 30, 0, 0, time.UTC)
	for s := range features.NumSignals {
		t.Run(s.Name(), func(t *testing.T) {
			p := &hydrocastv1.Reading{AthleteId: "ann", Source: "watch",
				Time: timestamppb.New(at)}
			msg := p.ProtoReflect()
			fd := msg.Descriptor().Fields().ByName(protoreflect.Name(s.Name()))
			if fd == nil {
				t.Fatalf("hydrocast.v1.Reading has no field %s", s.Name())
			}
			want := 1 + float64(s)
			msg.Set(fd, protoreflect.ValueOfFloat64(want))

			r := FromProto(p)
			if r.AthleteID != "ann" || r.Source != "watch" || !r.Time.Equal(at) {
				t.Fatalf("identity %s %s %s", r.AthleteID, r.Source, r.Time)
			}
			for o := range features.NumSignals {
				v := r.Values[o]
				if o == s && v != want {
					t.Errorf("%s = %v, want %v", o.Name(), v, want)
				}
				if o != s && !math.IsNaN(v) {
					t.Errorf("%s = %v, want missing", o.Name(), v)
				}
			}
		})
	}
}

func TestFromProtoWithoutTime(t *testing.T) {
	r := FromProto(&hydrocastv1.Reading{AthleteId: "ann"})
	if !r.Time.IsZero() {
		t.Fatalf("time %s, want zero so that validation refuses it", r.Time)
	}
}

// TestToProtoRoundTrip: every signal set, or missing, comes back as it went out.
func TestToProtoRoundTrip(t *testing.T) {
	at := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	r := features.NewReading("ann", "watch", at)
	for s := range features.NumSignals {
		if s != features.Cadence {
			r.Set(s, 10+float64(s))
		}
	}
	p := ToProto(&r)
	if p.CadencePerMin != nil {
		t.Errorf("missing cadence went out as %v", *p.CadencePerMin)
	}
	back := FromProto(p)
	if back.AthleteID != "ann" || back.Source != "watch" || !back.Time.Equal(at) {
		t.Fatalf("identity came back as %q %q %v", back.AthleteID, back.Source, back.Time)
	}
	for s := range features.NumSignals {
		got, want := back.Values[s], r.Values[s]
		if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("%s: %v, want %v", s.Name(), got, want)
		}
	}
}
