package ratelimit

// Gate bounds how many calls run at once: a call enters when a slot is free and is
// refused at once otherwise, so that excess load costs a refusal and not a queue
// whose memory and latency grow with the load. A nil *Gate admits every call. A Gate
// is safe for concurrent use.
type Gate struct {
	slots chan struct{}
}

// NewGate returns a Gate of n slots, or nil, which admits everything, when n <= 0.
func NewGate(n int) *Gate {
	if n <= 0 {
		return nil
	}
	return &Gate{slots: make(chan struct{}, n)}
}

// TryEnter takes a slot and reports whether there was one; a caller that got one
// must Leave when its call ends.
func (g *Gate) TryEnter() bool {
	if g == nil {
		return true
	}
	select {
	case g.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// Leave gives back the slot TryEnter took.
func (g *Gate) Leave() {
	if g != nil {
		<-g.slots
	}
}

// InFlight returns the number of slots taken.
func (g *Gate) InFlight() int {
	if g == nil {
		return 0
	}
	return len(g.slots)
}

// Cap returns the number of slots, 0 for a nil Gate.
func (g *Gate) Cap() int {
	if g == nil {
		return 0
	}
	return cap(g.slots)
}
