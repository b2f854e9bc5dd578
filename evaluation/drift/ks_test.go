package drift

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKSHandComputed(t *testing.T) {
	tests := []struct {
		name      string
		ref, live []float64
		d, p      float64
	}{
		// Below 3.5 the reference's CDF reaches 0.75 while the live one is 0; at 4 it
		// is 1 against 0.2, the largest gap.
		{"interleaved", []float64{1, 2, 3, 4}, []float64{3.5, 5, 6, 7, 8}, 0.8, -1},
		// Of the C(4,2) = 6 equally likely splits of four values, the two that
		// separate them completely reach D = 1.
		{"separated pairs", []float64{1, 2}, []float64{3, 4}, 1, 1.0 / 3},
		{"identical", []float64{1, 2, 3}, []float64{1, 2, 3}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KS(tt.ref, tt.live)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got.D, tt.d, 1e-12) || got.Method != KSExact {
				t.Errorf("D = %v (%s), want %v exact", got.D, got.Method, tt.d)
			}
			if tt.p >= 0 && !near(got.PValue, tt.p, 1e-12) {
				t.Errorf("p = %v, want %v", got.PValue, tt.p)
			}
		})
	}
}

// TestKSExactMatchesPermutations checks the lattice-path p-value against the share
// of all ways to split the pooled values that give a D at least as large.
func TestKSExactMatchesPermutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, size := range [][2]int{{1, 1}, {2, 5}, {4, 4}, {3, 7}, {6, 5}, {8, 6}} {
		n, m := size[0], size[1]
		pooled := rng.Perm(n + m) // distinct values
		a, b := make([]float64, n), make([]float64, m)
		for i, v := range pooled {
			if i < n {
				a[i] = float64(v)
			} else {
				b[i-n] = float64(v)
			}
		}
		got, err := KS(a, b)
		if err != nil {
			t.Fatal(err)
		}
		want := permutationP(pooled, n, got.D)
		if !near(got.PValue, want, 1e-12) {
			t.Errorf("n=%d m=%d D=%v: p = %v, permutations give %v", n, m, got.D,
				got.PValue, want)
		}
	}
}

// permutationP enumerates every subset of n of the pooled values as the first sample.
func permutationP(pooled []int, n int, d float64) float64 {
	total, extreme := 0, 0
	var pick func(start int, chosen []float64)
	pick = func(start int, chosen []float64) {
		if len(chosen) == n {
			var rest []float64
			for _, v := range pooled {
				if !slices.Contains(chosen, float64(v)) {
					rest = append(rest, float64(v))
				}
			}
			total++
			if got, _ := KS(chosen, rest); got.D >= d-1e-12 {
				extreme++
			}
			return
		}
		for i := start; i < len(pooled); i++ {
			pick(i+1, append(slices.Clone(chosen), float64(pooled[i])))
		}
	}
	pick(0, nil)
	return float64(extreme) / float64(total)
}

func TestKolmogorovCriticalValues(t *testing.T) {
	// Published critical values of the limiting distribution.
	tests := []struct{ lambda, p float64 }{
		{1.2238, 0.10}, {1.3581, 0.05}, {1.6276, 0.01},
	}
	for _, tt := range tests {
		if got := kolmogorovQ(tt.lambda); !near(got, tt.p, 2e-4) {
			t.Errorf("Q(%v) = %v, want %v", tt.lambda, got, tt.p)
		}
	}
}

func TestKSAsymptoticAgreesWithExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := make([]float64, 400), make([]float64, 500)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := range b {
		b[i] = rng.NormFloat64() + 0.15
	}
	got, err := KS(a, b)
	if err != nil {
		t.Fatal(err)
	}
	asym := ksAsymptoticP(400, 500, got.D)
	if got.Method != KSExact || !near(got.PValue, asym, 0.01) {
		t.Errorf("exact p %v (%s) and asymptotic p %v differ", got.PValue, got.Method, asym)
	}
}

func TestKSLargeSamplesUseAsymptotic(t *testing.T) {
	a := make([]float64, 1500)
	b := make([]float64, 1500)
	for i := range a {
		a[i] = float64(i)
	}
	for i := range b {
		b[i] = float64(i) + 500 // shifted by a third of the range
	}
	got, err := KS(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != KSAsymptotic || !near(got.D, 1.0/3, 1e-9) || got.PValue > 1e-10 {
		t.Errorf("KS = %+v, want asymptotic, D 1/3, tiny p", got)
	}
}

func TestKSRejectsAtNominalRate(t *testing.T) {
	// Under the null hypothesis the exact test rejects at most α of the time.
	rng := rand.New(rand.NewPCG(11, 12))
	const runs = 2000
	rejected := 0
	for range runs {
		a, b := make([]float64, 30), make([]float64, 40)
		for i := range a {
			a[i] = rng.Float64()
		}
		for i := range b {
			b[i] = rng.Float64()
		}
		if res, _ := KS(a, b); res.PValue < 0.05 {
			rejected++
		}
	}
	if rate := float64(rejected) / runs; rate > 0.065 || rate < 0.025 {
		t.Errorf("rejection rate %.3f under the null, want about 0.05 (at most)", rate)
	}
}
