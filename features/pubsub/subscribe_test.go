package pubsub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/pubsub"
)

func TestParseSubscription(t *testing.T) {
	project, id, err := pubsub.ParseSubscription("projects/p-1/subscriptions/readings")
	if err != nil || project != "p-1" || id != "readings" {
		t.Fatalf("ParseSubscription = %q, %q, %v", project, id, err)
	}
	for _, bad := range []string{"", "readings", "projects/p/topics/t",
		"projects//subscriptions/s", "projects/p/subscriptions/", "projects/p/subscriptions/s/x"} {
		if _, _, err := pubsub.ParseSubscription(bad); !errors.Is(err,
			pubsub.ErrSubscriptionName) {
			t.Errorf("ParseSubscription(%q): %v, want ErrSubscriptionName", bad, err)
		}
	}
}

// TestSubscribeThroughEmulator connects the way serve does, by name, to the fake
// server through PUBSUB_EMULATOR_HOST, and acknowledges what the store took.
func TestSubscribeThroughEmulator(t *testing.T) {
	h := newHarness(t)
	t.Setenv("PUBSUB_EMULATOR_HOST", h.srv.Addr)
	store := features.NewStore(nil)
	src, err := pubsub.Subscribe(context.Background(), subName, store, nil)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	for i := range 5 {
		h.srv.PublishOrdered(topic, asJSON(t, wire("eve", i*10, 120+float64(i))), nil, "eve")
	}
	stop := run(t, src)
	h.waitAcked(t)
	stop()
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	if got := src.Stats().Ingested; got != 5 {
		t.Errorf("ingested %d, want 5", got)
	}
	v := features.NewVector()
	if err := store.Vector(context.Background(), "eve", t0.Add(time.Minute), v); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := v.Get("heart_rate_bpm_last"); got != 124 {
		t.Errorf("heart_rate_bpm_last = %v, want 124", got)
	}
}

func TestSubscribeRejectsBadName(t *testing.T) {
	_, err := pubsub.Subscribe(context.Background(), "readings", features.NewStore(nil), nil)
	if !errors.Is(err, pubsub.ErrSubscriptionName) {
		t.Fatalf("Subscribe: %v, want ErrSubscriptionName", err)
	}
}
