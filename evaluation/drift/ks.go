package drift

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
)

// KSMethod names how a Kolmogorov–Smirnov p-value was computed.
type KSMethod string

// The p-value methods of KS.
const (
	// KSExact counts the lattice paths that keep the two empirical distribution
	// functions closer than the observed D (Hodges 1958), giving the exact
	// permutation p-value for samples without ties.
	KSExact KSMethod = "exact"
	// KSAsymptotic uses Kolmogorov's limiting distribution with Stephens' (1970)
	// small-sample correction, λ = (√nₑ + 0.12 + 0.11/√nₑ)·D, nₑ = nm/(n+m).
	KSAsymptotic KSMethod = "asymptotic"
)

// ksExactLimit is the largest n·m for which KS computes the exact p-value; the path
// count costs O(n·m) time and O(m) memory, a few milliseconds at this size, which
// covers a 1000-value reference against a default 2000-value live reservoir.
const ksExactLimit = 2_000_000

// KSResult is the outcome of a two-sample Kolmogorov–Smirnov test.
type KSResult struct {
	D      float64  `json:"d"`       // largest gap between the two empirical CDFs
	PValue float64  `json:"p_value"` // two-sided
	Method KSMethod `json:"method"`
	N, M   int      `json:"-"` // finite values in ref and live
}

// KS runs the two-sample Kolmogorov–Smirnov test of ref against live, ignoring NaN and
// ±Inf. The statistic comes from gonum's stat.KolmogorovSmirnov; the p-value is exact
// when n·m ≤ 2,000,000 and asymptotic above (see KSMethod). With ties the exact
// p-value is conservative: it is at least the true one. The exact p-value is accurate
// to about 1e-15 in absolute terms, so a smaller one comes out as 0.
func KS[T Float](ref, live []T) (KSResult, error) {
	a, b := sortedFinite(ref), sortedFinite(live)
	if len(a) == 0 || len(b) == 0 {
		return KSResult{}, fmt.Errorf("ks: %w: %d reference and %d live values",
			ErrNotEnoughData, len(a), len(b))
	}
	// gonum accumulates the CDFs in steps of 1/n, which can overshoot 1 by an ulp.
	d := min(stat.KolmogorovSmirnov(a, nil, b, nil), 1)
	res := KSResult{D: d, N: len(a), M: len(b)}

	n, m := int64(len(a)), int64(len(b))
	if n*m <= ksExactLimit {
		// D·n·m is an integer: every gap is |i·m − j·n| / (n·m).
		gap := int64(math.Round(res.D * float64(n) * float64(m)))
		res.PValue, res.Method = ksExactP(n, m, gap), KSExact
		return res, nil
	}
	res.PValue, res.Method = ksAsymptoticP(n, m, res.D), KSAsymptotic
	return res, nil
}

// ksExactP returns P(D ≥ gap/(n·m)) for samples of sizes n and m under the null
// hypothesis: one minus the share of monotone lattice paths from (0,0) to (n,m) on
// which every point satisfies |i·m − j·n| < gap.
func ksExactP(n, m, gap int64) float64 {
	if gap <= 0 {
		return 1
	}
	// u[j] holds, for the current row i, the probability that a uniformly random
	// path to (i, j) stayed inside. The weights i/(i+j) and j/(i+j) are the shares
	// of paths arriving from below and from the left, which keeps every value in
	// [0, 1]. Only the band of allowed j is visited; both its ends move right as i
	// grows, so cells past the previous row's band are still zero.
	u := make([]float64, m+1)
	lo, hi := ksBand(0, n, m, gap)
	for j := lo; j <= hi; j++ {
		u[j] = 1
	}
	for i := int64(1); i <= n; i++ {
		lo, hi = ksBand(i, n, m, gap)
		if lo > hi {
			return 1 // no path stays inside
		}
		left := 0.0 // u at (i, lo−1), outside the band
		for j := lo; j <= hi; j++ {
			w := float64(i) / float64(i+j)
			u[j] = w*u[j] + (1-w)*left
			left = u[j]
		}
	}
	return clampUnit(1 - u[m])
}

// ksBand returns the j range of row i with |i·m − j·n| < gap, clipped to [0, m].
func ksBand(i, n, m, gap int64) (lo, hi int64) {
	lo = floorDiv(i*m-gap, n) + 1
	hi = -floorDiv(-(i*m+gap), n) - 1 // ceil((i·m + gap)/n) − 1
	return max(lo, 0), min(hi, m)
}

// floorDiv divides rounding towards minus infinity; d > 0.
func floorDiv(a, d int64) int64 {
	q := a / d
	if a%d != 0 && a < 0 {
		q--
	}
	return q
}

// ksAsymptoticP returns the p-value of D from Kolmogorov's limiting distribution
// with Stephens' correction.
func ksAsymptoticP(n, m int64, d float64) float64 {
	ne := math.Sqrt(float64(n) * float64(m) / float64(n+m))
	return kolmogorovQ((ne + 0.12 + 0.11/ne) * d)
}

// kolmogorovQ returns P(K > λ) for Kolmogorov's distribution,
// Q(λ) = 2 Σ (−1)^(k−1) exp(−2k²λ²).
func kolmogorovQ(lambda float64) float64 {
	if lambda < 0.2 {
		// The series converges too slowly here, and Q(0.2) already rounds to 1.
		return 1
	}
	var q, sign float64 = 0, 1
	for k := 1; k <= 100; k++ {
		term := sign * math.Exp(-2*float64(k*k)*lambda*lambda)
		q += term
		if math.Abs(term) < 1e-16 {
			break
		}
		sign = -sign
	}
	return clampUnit(2 * q)
}
