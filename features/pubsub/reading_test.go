package pubsub

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
)

// TestReadingFromProto sets each signal's wire field, found by the signal's name,
// and checks that exactly that signal arrives.
func TestReadingFromProto(t *testing.T) {
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

			r := readingFromProto(p)
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

func TestReadingFromProtoWithoutTime(t *testing.T) {
	r := readingFromProto(&hydrocastv1.Reading{AthleteId: "ann"})
	if !r.Time.IsZero() {
		t.Fatalf("time %s, want zero so that validation refuses it", r.Time)
	}
}
