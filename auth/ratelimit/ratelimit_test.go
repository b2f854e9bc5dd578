package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)} }

func TestAllowBurstThenRefuse(t *testing.T) {
	c := newClock()
	l := New(Options{Rate: 2, Burst: 3, Now: c.now})

	for i := range 3 {
		if ok, _ := l.Allow("svc"); !ok {
			t.Fatalf("call %d within the burst refused", i+1)
		}
	}
	ok, retry := l.Allow("svc")
	if ok {
		t.Fatal("call past the burst allowed")
	}
	if retry != 500*time.Millisecond {
		t.Errorf("retry after %v, want 500ms at 2 calls per second", retry)
	}

	// A refused call takes no token: waiting the hint is enough for one call.
	c.advance(retry)
	if ok, _ := l.Allow("svc"); !ok {
		t.Error("call after the retry hint refused")
	}
}

func TestKeysAreIndependent(t *testing.T) {
	c := newClock()
	l := New(Options{Rate: 1, Burst: 1, Now: c.now})
	l.Allow("a")

	if ok, _ := l.Allow("b"); !ok {
		t.Error("key b refused after key a spent its bucket")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Error("key a allowed twice within a second")
	}
}

func TestTableIsBounded(t *testing.T) {
	c := newClock()
	l := New(Options{Rate: 1, Burst: 1, MaxKeys: 100, Now: c.now})
	l.Allow("victim")

	for i := range 1000 {
		l.Allow(fmt.Sprint("flood-", i))
	}

	if l.Len() != 100 {
		t.Errorf("tracking %d keys, want the bound 100", l.Len())
	}
	// The least recently seen key was forgotten and comes back with a full bucket.
	if ok, _ := l.Allow("victim"); !ok {
		t.Error("evicted key still refused")
	}
}

func TestRecentKeyIsKept(t *testing.T) {
	c := newClock()
	l := New(Options{Rate: 1, Burst: 1, MaxKeys: 2, Now: c.now})
	l.Allow("a")
	l.Allow("b")
	l.Allow("a") // refused, but marks a as recently seen
	l.Allow("c") // evicts b

	if ok, _ := l.Allow("a"); ok {
		t.Error("recently seen key a was evicted instead of b")
	}
}

func TestZeroRateAllowsAll(t *testing.T) {
	cases := []struct {
		name string
		l    *Limiter
	}{
		{"nil limiter", nil},
		{"zero rate", New(Options{})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 1000 {
				if ok, _ := tc.l.Allow("k"); !ok {
					t.Fatal("refused a call with limits off")
				}
			}
		})
	}
}

func BenchmarkAllow(b *testing.B) {
	l := New(Options{Rate: 1e9, Burst: 1e9})
	for b.Loop() {
		l.Allow("svc")
	}
}
