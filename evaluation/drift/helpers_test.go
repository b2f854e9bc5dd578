package drift

import (
	"math"
	"math/rand/v2"
	"testing"
)

// testProfile builds the profile the report tests share: "hr_small" and "hr_large",
// normal numbers with nSmall and nLarge values (N(140, 10²)); "sport", a category;
// "flag", a 0/1 number; and "empty", a numeric feature never present.
func testProfile(t testing.TB, nSmall, nLarge int) *Profile {
	t.Helper()
	rows := max(nSmall, nLarge)
	rng := rand.New(rand.NewPCG(42, 1))
	small, large := normals(rng, rows, 140, 10), normals(rng, rows, 140, 10)
	for i := nSmall; i < rows; i++ {
		small[i] = nan()
	}
	for i := nLarge; i < rows; i++ {
		large[i] = nan()
	}
	sports := make([]string, rows)
	flags := make([]float64, rows)
	empty := make([]float64, rows)
	for i := range sports {
		sports[i] = []string{"run", "run", "bike", "swim"}[i%4]
		flags[i] = float64(i % 3 % 2)
		empty[i] = nan()
	}
	p, err := BuildProfile([]Column{
		{Name: "hr_small", Values: small}, {Name: "hr_large", Values: large},
		{Name: "sport", Categories: sports}, {Name: "flag", Values: flags},
		{Name: "empty", Values: empty},
	}, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func normals(rng *rand.Rand, n int, mean, sd float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + sd*rng.NormFloat64()
	}
	return out
}

func nan() float64 { return math.NaN() }
