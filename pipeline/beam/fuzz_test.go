package beam

import (
	"context"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"google.golang.org/protobuf/proto"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/wire"
)

// FuzzParseReading feeds arbitrary Pub/Sub payloads to the parser: it drops what is
// not a timed reading and emits the rest keyed by their athlete at their event time.
func FuzzParseReading(f *testing.F) {
	r := features.NewReading("a-1", "watch", time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC))
	r.Set(features.HeartRate, 140)
	good, err := proto.Marshal(wire.ToProto(&r))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte("not a reading"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var emitted int
		parseReading(context.Background(), data, func(ts beam.EventTime, athlete string,
			msg []byte) {
			emitted++
			var p hydrocastv1.Reading
			if err := proto.Unmarshal(msg, &p); err != nil {
				t.Fatalf("emitted a message that does not decode: %v", err)
			}
			if athlete != p.GetAthleteId() ||
				int64(ts) != p.GetTime().AsTime().UnixMilli() {
				t.Fatalf("emitted %q at %d for a reading of %q at %v", athlete, ts,
					p.GetAthleteId(), p.GetTime().AsTime())
			}
		})
		if emitted > 1 {
			t.Fatalf("one message emitted %d readings", emitted)
		}
	})
}
