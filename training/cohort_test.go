package training

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/hydrocast/hydrocast/training/simulate"
)

// testAthletes sizes the cohort the package's tests share: big enough for held-out
// metrics to mean something, small enough to generate and train in seconds.
const testAthletes = 40

// shared is the cohort generated once for the tests of this package.
var shared struct {
	once   sync.Once
	dir    string
	cohort simulate.Cohort
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// testCohort returns the folder and contents of the shared cohort, generating it on
// first use.
func testCohort(tb testing.TB) (string, *simulate.Cohort) {
	tb.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "hydrocast-training-test-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = dir
		o := simulate.DefaultOptions()
		o.Out, o.Athletes, o.FITSessions = dir, testAthletes, 0
		if _, err := simulate.Run(context.Background(), o, nil); err != nil {
			shared.err = fmt.Errorf("simulate cohort: %w", err)
			return
		}
		shared.cohort, shared.err = simulate.LoadCohort(dir)
	})
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.dir, &shared.cohort
}

// testDatasets builds the datasets of the shared cohort.
func testDatasets(tb testing.TB) (*simulate.Cohort, Datasets) {
	tb.Helper()
	_, c := testCohort(tb)
	ds, err := BuildDatasets(context.Background(), c, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return c, ds
}
