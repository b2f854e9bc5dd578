package simulate

import (
	"math"
	"math/rand/v2"
)

// Streams of random numbers. Every athlete and every session has its own PCG stream,
// derived from the seed and its position alone, so that athletes and sessions can be
// simulated in any order and on any number of workers with the same result.
const (
	streamAthlete = 1
	streamSession = 2
)

// newRand returns the random source of one athlete (session 0) or one of its
// sessions (from 1).
func newRand(seed uint64, kind, athlete, session int) *rand.Rand {
	key := uint64(kind)<<56 | uint64(athlete)<<16 | uint64(session)
	return rand.New(rand.NewPCG(seed, mix64(key)))
}

// mix64 is the SplitMix64 finaliser; it spreads neighbouring keys over the whole
// stream space so that streams of neighbouring athletes do not correlate.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// uniform returns a number drawn evenly from [lo, hi).
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// normal returns a normal draw with the given mean and standard deviation, clipped
// to [lo, hi] so that no tail produces an impossible person.
func normal(r *rand.Rand, mean, sd, lo, hi float64) float64 {
	return clamp(mean+sd*r.NormFloat64(), lo, hi)
}

// logNormal returns a log-normal draw with the given median and log-scale standard
// deviation.
func logNormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// poisson returns a Poisson draw with mean lambda (Knuth's method; the means here are
// small).
func poisson(r *rand.Rand, lambda float64) int {
	limit, p, n := math.Exp(-lambda), r.Float64(), 0
	for p > limit {
		p *= r.Float64()
		n++
	}
	return n
}

// pick returns an index drawn with the given weights, which need not sum to one.
func pick(r *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// round returns v rounded to the nearest multiple of step, as a device would report
// it.
func round(v, step float64) float64 { return math.Round(v/step) * step }
