package features

import (
	"math"
)

// Ring capacities, in rows. A window starts small so that an athlete with a handful of
// readings costs little; minRingCap holds 62 minutes of 30-second readings (60 minutes
// plus the default lateness), the target load.
const (
	initialRingCap = 32
	minRingCap     = 128
)

// ring holds one athlete's recent readings sorted by event time, oldest first, as a
// circular buffer of columns. Times are milliseconds after base in an int32 (a span
// of 24 days, far more than the hour kept) and values are float32 (seven significant
// digits, more than any wearable delivers): a row costs 4+2+4·NumSignals bytes.
type ring struct {
	times []int32   // event time − base, ms; len is the capacity
	srcs  []uint16  // index into the window's source table
	vals  []float32 // column-major: signal s of physical row p is vals[s*cap+p]
	head  int       // physical index of logical row 0
	n     int       // rows held
	base  int64     // Unix ms of time offset zero
}

func (r *ring) capacity() int { return len(r.times) }

// phys maps logical row i (0 = oldest) to its physical index.
func (r *ring) phys(i int) int {
	p := r.head + i
	if c := len(r.times); p >= c {
		p -= c
	}
	return p
}

// time returns the event time of row i in Unix ms.
func (r *ring) time(i int) int64 { return r.base + int64(r.times[r.phys(i)]) }

// src returns the source index of row i.
func (r *ring) src(i int) uint16 { return r.srcs[r.phys(i)] }

// value returns signal s of row i, NaN when the reading did not carry it.
func (r *ring) value(s Signal, i int) float32 {
	return r.vals[int(s)*len(r.times)+r.phys(i)]
}

// search returns the first row whose time is at or after ms (n when none is).
func (r *ring) search(ms int64) int {
	lo, hi := 0, r.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.time(mid) < ms {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// sameValues reports whether row i holds exactly the values of vals as stored, a
// missing signal matching only a missing one.
func (r *ring) sameValues(i int, vals *[NumSignals]float64) bool {
	p, c := r.phys(i), len(r.times)
	for s, v := range vals {
		stored := r.vals[s*c+p]
		if math.IsNaN(v) != isNaN32(stored) {
			return false
		}
		if !math.IsNaN(v) && float32(v) != stored {
			return false
		}
	}
	return true
}

// setValues overwrites the values of row i.
func (r *ring) setValues(i int, vals *[NumSignals]float64) {
	p, c := r.phys(i), len(r.times)
	for s, v := range vals {
		r.vals[s*c+p] = float32(v)
	}
}

// insert puts a row at logical position at, shifting the later rows up by one. The
// caller keeps the order and has checked that ms−base fits an int32.
func (r *ring) insert(at int, ms int64, src uint16, vals *[NumSignals]float64) {
	if r.n == len(r.times) {
		r.resize(nextRingCap(len(r.times)))
	}
	c := len(r.times)
	for i := r.n; i > at; i-- {
		dst, from := r.phys(i), r.phys(i-1)
		r.times[dst], r.srcs[dst] = r.times[from], r.srcs[from]
		for s := range NumSignals {
			r.vals[int(s)*c+dst] = r.vals[int(s)*c+from]
		}
	}
	r.n++

	p := r.phys(at)
	r.times[p], r.srcs[p] = int32(ms-r.base), src
	r.setValues(at, vals)
}

// dropFront removes the k oldest rows, and gives memory back after a burst.
func (r *ring) dropFront(k int) {
	if k <= 0 {
		return
	}
	r.head = r.phys(k)
	r.n -= k
	if r.n == 0 {
		r.head = 0
	}
	if c := len(r.times); c > minRingCap && r.n < c/4 {
		r.resize(max(minRingCap, 2*r.n))
	}
}

// rebase moves offset zero to base, which must not be after the oldest row.
func (r *ring) rebase(base int64) {
	delta := base - r.base
	for i := range r.n {
		p := r.phys(i)
		r.times[p] = int32(int64(r.times[p]) - delta)
	}
	r.base = base
}

// resize copies the rows into new columns of capacity c ≥ n, oldest at index 0.
func (r *ring) resize(c int) {
	times := make([]int32, c)
	srcs := make([]uint16, c)
	vals := make([]float32, c*int(NumSignals))
	old := len(r.times)
	for i := range r.n {
		p := r.phys(i)
		times[i], srcs[i] = r.times[p], r.srcs[p]
		for s := range int(NumSignals) {
			vals[s*c+i] = r.vals[s*old+p]
		}
	}
	r.times, r.srcs, r.vals, r.head = times, srcs, vals, 0
}

// nextRingCap doubles small rings up to minRingCap and grows larger ones by half, so
// that the target load fits without rounding up to twice its size.
func nextRingCap(c int) int {
	switch {
	case c == 0:
		return initialRingCap
	case c < minRingCap:
		return min(2*c, minRingCap)
	}
	return c + c/2
}

// bytes returns the heap bytes held by the columns.
func (r *ring) bytes() int {
	return 4*len(r.times) + 2*len(r.srcs) + 4*len(r.vals)
}

func isNaN32(f float32) bool { return f != f }
