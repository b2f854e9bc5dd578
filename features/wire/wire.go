// Package wire converts readings between the feature store's form and the
// hydrocast.v1 wire message, for every way readings arrive or leave (gRPC, Pub/Sub).
package wire

import (
	"math"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
)

// signalFields holds, per signal, the Reading message field of the same name. The
// wire format names its fields as features.Signal.Name does, so a signal added to
// both needs no code here; a signal without a field is nil and never set.
var signalFields = func() [features.NumSignals]protoreflect.FieldDescriptor {
	var out [features.NumSignals]protoreflect.FieldDescriptor
	fields := (&hydrocastv1.Reading{}).ProtoReflect().Descriptor().Fields()
	for s := range features.NumSignals {
		out[s] = fields.ByName(protoreflect.Name(s.Name()))
	}
	return out
}()

// FromProto converts a wire reading; an absent optional field is a missing value, an
// absent time the zero time, which validation refuses.
func FromProto(p *hydrocastv1.Reading) features.Reading {
	var at time.Time
	if p.GetTime() != nil {
		at = p.GetTime().AsTime()
	}
	r := features.NewReading(p.GetAthleteId(), p.GetSource(), at)
	msg := p.ProtoReflect()
	for s, fd := range signalFields {
		if fd != nil && msg.Has(fd) {
			r.Values[s] = msg.Get(fd).Float()
		}
	}
	return r
}

// ToProto converts a reading into its wire form; a missing signal is an absent field.
func ToProto(r *features.Reading) *hydrocastv1.Reading {
	p := &hydrocastv1.Reading{AthleteId: r.AthleteID, Source: r.Source,
		Time: timestamppb.New(r.Time)}
	msg := p.ProtoReflect()
	for s, fd := range signalFields {
		if v := r.Values[s]; fd != nil && !math.IsNaN(v) {
			msg.Set(fd, protoreflect.ValueOfFloat64(v))
		}
	}
	return p
}
