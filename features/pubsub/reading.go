package pubsub

import (
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

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

// readingFromProto converts a wire reading; an absent optional field is a missing
// value, an absent time the zero time, which validation refuses.
func readingFromProto(p *hydrocastv1.Reading) features.Reading {
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
