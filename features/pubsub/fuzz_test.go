package pubsub

import (
	"errors"
	"testing"

	ps "cloud.google.com/go/pubsub/v2"
)

// FuzzDecode feeds arbitrary message bodies and content types to the decoder: it
// must return a reading or an error, never panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"athleteId":"ann","time":"2025-07-14T09:30:00Z","heartRateBpm":120}`), "")
	f.Add([]byte(`{"athlete_id":"ann","skin_temp_c":"33.5"}`), "application/json; charset=utf-8")
	f.Add([]byte{0x0a, 0x03, 'a', 'n', 'n', 0x21, 0, 0, 0, 0, 0, 0, 0x5e, 0x40}, ContentProto)
	f.Add([]byte("garbage"), "text/plain; q=")
	f.Fuzz(func(t *testing.T, data []byte, ct string) {
		m := &ps.Message{Data: data, Attributes: map[string]string{AttrContentType: ct}}
		r, err := decode(m)
		if err != nil {
			return
		}
		// Whatever decoded must be something validation can judge.
		_ = r.Validate()
	})
}

// FuzzParseSubscription checks that a name either parses into parts that spell it
// again or fails with ErrSubscriptionName.
func FuzzParseSubscription(f *testing.F) {
	for _, s := range []string{"projects/p/subscriptions/s", "projects//subscriptions/s",
		"projects/p/topics/t", "", "projects/a/b/subscriptions/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		project, id, err := ParseSubscription(name)
		if err != nil {
			if !errors.Is(err, ErrSubscriptionName) {
				t.Fatalf("error %v does not wrap ErrSubscriptionName", err)
			}
			return
		}
		if "projects/"+project+"/subscriptions/"+id != name || project == "" || id == "" {
			t.Fatalf("%q parsed into %q, %q", name, project, id)
		}
	})
}
