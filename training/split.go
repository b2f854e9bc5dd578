package training

import (
	"math/rand/v2"
	"slices"
)

// SplitAthletes divides athlete ids into a training set and a held-out test set of
// about testShare of them (at least one of each when there are two or more athletes).
// The split depends only on the set of ids and the seed, not on their order, so rows
// of one athlete never land on both sides and a rerun reproduces it.
func SplitAthletes(ids []string, testShare float64, seed uint64) (train, test []string) {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)

	rng := rand.New(rand.NewPCG(seed, 0x68796472)) // "hydr": a fixed second word
	rng.Shuffle(len(sorted), func(i, j int) { sorted[i], sorted[j] = sorted[j], sorted[i] })

	nTest := int(float64(len(sorted))*testShare + 0.5)
	if len(sorted) >= 2 {
		nTest = min(max(nTest, 1), len(sorted)-1)
	}
	test, train = sorted[:nTest], sorted[nTest:]
	slices.Sort(test)
	slices.Sort(train)
	return train, test
}
