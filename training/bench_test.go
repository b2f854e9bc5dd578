package training

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/models"
)

// The demo trains on about 60 athletes: some 17,000 anomaly rows, 2,800 sweat rows
// and 2,500 thermal rows. The benchmarks below size their data alike.

func BenchmarkFitRidge(b *testing.B) {
	rng := rand.New(rand.NewPCG(41, 42))
	coef := mat.NewDense(11, 3, nil)
	for i := range 11 {
		for j := range 3 {
			coef.Set(i, j, rng.NormFloat64())
		}
	}
	x, y := linearData(rng, 2500, coef, []float64{1, 2, 3}, 0.1)
	for b.Loop() {
		if _, err := FitRidge(x, y, 0.01); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitLogistic(b *testing.B) {
	x, y := ringData(rand.New(rand.NewPCG(43, 44)), 17000)
	for b.Loop() {
		if _, err := FitLogistic(x, y, LogisticOptions{L2: 1e-3}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFitMLP fits the anomaly network's shape (12 inputs, 16 units, 150
// iterations) on 12,500 rows, the training share of the demo's anomaly rows; a
// training run fits it six times, two at a time on two cores.
func BenchmarkFitMLP(b *testing.B) {
	rng := rand.New(rand.NewPCG(45, 46))
	n, k := 12500, 12
	x := mat.NewDense(n, k, nil)
	y := make([]float64, n)
	for i := range n {
		var r float64
		for j := range k {
			v := rng.NormFloat64()
			x.Set(i, j, v)
			r += v * v
		}
		if r > 16 {
			y[i] = 1
		}
	}
	for b.Loop() {
		if _, err := FitMLP(x, y, MLPOptions{Hidden: 16, L2: 1e-3, MaxIter: 150,
			Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildDatasets(b *testing.B) {
	_, c := testCohort(b)
	for b.Loop() {
		if _, err := BuildDatasets(context.Background(), c, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPredictAnomaly(b *testing.B) {
	f, _ := models.FamilyByName(models.Anomaly)
	d := &Dataset{Family: f}
	rng := rand.New(rand.NewPCG(47, 48))
	d.X = mat.NewDense(1000, len(f.Features), nil)
	d.Y = mat.NewDense(1000, 1, nil)
	for i := range 1000 {
		for j := range f.Features {
			d.X.Set(i, j, rng.NormFloat64())
		}
		if i%7 == 0 {
			d.Y.Set(i, 0, 1)
		}
	}
	m, err := fitMLPModel(d, MLPOptions{MaxIter: 10})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m.Predict(d.X)
	}
}

// BenchmarkFitSweat1M fits the sweat-rate family (cross-validated ridge over the
// penalty grid, then the interval) on a million synthetic rows of 2,000 athletes:
// the issue asks for under 60 s on two cores.
func BenchmarkFitSweat1M(b *testing.B) {
	f, _ := models.FamilyByName(models.SweatRate)
	const n, athletes = 1_000_000, 2000
	rng := rand.New(rand.NewPCG(49, 50))
	k := len(f.Features)
	d := &Dataset{Family: f, X: mat.NewDense(n, k, nil), Y: mat.NewDense(n, 1, nil),
		Baseline: mat.NewDense(n, 1, nil), Athletes: make([]string, n),
		When: make([]Timeline, n)}
	ids := make([]string, athletes)
	for a := range ids {
		ids[a] = fmt.Sprintf("a%05d", a)
	}
	for i := range n {
		row := d.X.RawRowView(i)
		var y float64
		for j := range row {
			row[j] = rng.NormFloat64()
			y += float64(j%3) * 0.1 * row[j]
		}
		d.Y.Set(i, 0, 1.2+y+0.2*rng.NormFloat64())
		d.Athletes[i] = ids[i*athletes/n]
		d.When[i] = Timeline{Session: d.Athletes[i], Minute: i % 500}
	}
	for b.Loop() {
		if _, err := FitSweat(d, FitOptions{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCohortReadings streams the test cohort's readings out of its Parquet
// files in athlete and time order, the input of dataset building; the issue asks for
// at least a million rows a second.
func BenchmarkCohortReadings(b *testing.B) {
	_, c := testCohort(b)
	var rows int
	for b.Loop() {
		for _, err := range c.Readings(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
