// Package ratelimit keeps one token bucket per key (a principal, a remote address) in
// a bounded least-recently-used table, so that a flood of new keys costs memory up to
// a fixed bound and no more. Gate, beside the buckets, bounds how many calls run at
// once, refusing the excess instead of queueing it.
package ratelimit

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options tune a Limiter.
type Options struct {
	// Rate is the sustained number of calls per second allowed to one key. Zero or
	// less turns the limiter off: every call is allowed.
	Rate float64

	// Burst is how many calls one key may make at once after being idle. Zero means
	// the rate rounded up, at least 1.
	Burst int

	// MaxKeys bounds the keys tracked at once; the least recently seen key is
	// forgotten first, and comes back with a full bucket. Zero means 10000.
	MaxKeys int

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Limiter allows or refuses calls per key. It is safe for concurrent use.
type Limiter struct {
	opts Options

	mu    sync.Mutex
	order *list.List               // guarded by mu: front is the most recently seen
	byKey map[string]*list.Element // guarded by mu: values are *entry
}

type entry struct {
	key     string
	limiter *rate.Limiter
}

// New returns a Limiter with opts, its zero fields set to their defaults.
func New(opts Options) *Limiter {
	if opts.Burst <= 0 {
		opts.Burst = max(1, int(math.Ceil(opts.Rate)))
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Limiter{opts: opts, order: list.New(), byKey: make(map[string]*list.Element)}
}

// Allow takes one token from key's bucket. When the bucket is empty it takes nothing
// and returns false with how long the caller should wait before trying again.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil || l.opts.Rate <= 0 {
		return true, 0
	}
	now := l.opts.Now()
	lim := l.bucket(key)

	r := lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return true, 0
	}
	// Give the token back: a refused call must not push the next one further out.
	r.CancelAt(now)
	return false, delay
}

// bucket returns key's limiter, creating it and evicting the least recently seen key
// when the table is full.
func (l *Limiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.byKey[key]; ok {
		l.order.MoveToFront(el)
		return el.Value.(*entry).limiter
	}
	if l.order.Len() >= l.opts.MaxKeys {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.byKey, oldest.Value.(*entry).key)
	}
	e := &entry{key: key, limiter: rate.NewLimiter(rate.Limit(l.opts.Rate), l.opts.Burst)}
	l.byKey[key] = l.order.PushFront(e)
	return e.limiter
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
