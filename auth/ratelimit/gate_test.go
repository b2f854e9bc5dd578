package ratelimit

import "testing"

func TestGateAdmitsUpToItsSlots(t *testing.T) {
	g := NewGate(2)
	if !g.TryEnter() || !g.TryEnter() {
		t.Fatal("a gate of 2 refused one of the first two calls")
	}
	if g.TryEnter() {
		t.Fatal("a gate of 2 admitted a third call")
	}
	if g.InFlight() != 2 || g.Cap() != 2 {
		t.Errorf("in flight %d of %d, want 2 of 2", g.InFlight(), g.Cap())
	}
	g.Leave()
	if !g.TryEnter() {
		t.Error("a freed slot was not given to the next call")
	}
}

func TestNilGateAdmitsEverything(t *testing.T) {
	for _, n := range []int{0, -1} {
		g := NewGate(n)
		for range 1000 {
			if !g.TryEnter() {
				t.Fatalf("NewGate(%d) refused a call", n)
			}
		}
		g.Leave()
		if g.InFlight() != 0 || g.Cap() != 0 {
			t.Errorf("NewGate(%d): in flight %d of %d, want 0 of 0", n, g.InFlight(), g.Cap())
		}
	}
}
