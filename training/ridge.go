package training

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// FitRidge fits a ridge regression of y (rows × outputs) on x (rows × inputs) with
// standardised inputs: for each output it minimises
// Σ (y − ŷ)² / n + lambda · ‖w‖², where w are the weights on the standardised inputs
// and the bias is not penalised. Scaling the penalty by the row count keeps lambda's
// meaning the same for small and large datasets.
//
// x must hold no NaN (impute first). A NaN in y means that row has no label for that
// output: each output is fitted on its own labelled rows, with the standardisation
// shared by all outputs and computed on every row.
func FitRidge(x, y *mat.Dense, lambda float64) (*Linear, error) {
	n, k := x.Dims()
	ny, m := y.Dims()
	if ny != n {
		return nil, fmt.Errorf("fit ridge: %d input rows but %d label rows", n, ny)
	}
	if n < 2 {
		return nil, ErrTooFewRows
	}

	mean, scale := columnMoments(x)
	z := standardize(x, mean, scale)
	model := &Linear{Mean: mean, Scale: scale, Weights: mat.NewDense(k, m, nil),
		Bias: make([]float64, m)}

	for j := range m {
		w, b, err := ridgeOutput(z, mat.Col(nil, j, y), lambda)
		if err != nil {
			return nil, fmt.Errorf("fit ridge output %d: %w", j, err)
		}
		model.Weights.SetCol(j, w)
		model.Bias[j] = b
	}
	return model, nil
}

// ridgeOutput solves one output's normal equations (ZᵀZ/n + λI) w = Zᵀ(y − ȳ)/n on
// the rows labelled for it, by Cholesky factorisation.
func ridgeOutput(z *mat.Dense, y []float64, lambda float64) (w []float64, b float64,
	err error) {
	rows := labelledRows(y)
	if len(rows) < 2 {
		return nil, 0, ErrTooFewRows
	}
	_, k := z.Dims()
	zs := mat.NewDense(len(rows), k, nil)
	ys := make([]float64, len(rows))
	for r, i := range rows {
		zs.SetRow(r, z.RawRowView(i))
		ys[r] = y[i]
	}

	// Centre within the labelled rows: with a subset the shared standardisation no
	// longer centres z exactly, and the unpenalised bias must absorb the difference.
	zMean, _ := columnMoments(zs)
	yMean := mean(ys)
	nr := float64(len(rows))
	for r := range rows {
		row := zs.RawRowView(r)
		for c := range row {
			row[c] -= zMean[c]
		}
		ys[r] -= yMean
	}

	gram := mat.NewSymDense(k, nil)
	gram.SymOuterK(1/nr, zs.T())
	for c := range k {
		gram.SetSym(c, c, gram.At(c, c)+lambda)
	}
	var chol mat.Cholesky
	if !chol.Factorize(gram) {
		return nil, 0, errors.New("normal equations are not positive definite")
	}
	rhs := mat.NewVecDense(k, nil)
	rhs.MulVec(zs.T(), mat.NewVecDense(len(ys), ys))
	rhs.ScaleVec(1/nr, rhs)
	sol := mat.NewVecDense(k, nil)
	if err := chol.SolveVecTo(sol, rhs); err != nil {
		return nil, 0, fmt.Errorf("solve normal equations: %w", err)
	}

	w = mat.Col(nil, 0, sol)
	b = yMean
	for c := range k {
		b -= w[c] * zMean[c]
	}
	return w, b, nil
}

// labelledRows returns the indexes of the non-NaN entries of y.
func labelledRows(y []float64) []int {
	rows := make([]int, 0, len(y))
	for i, v := range y {
		if !math.IsNaN(v) {
			rows = append(rows, i)
		}
	}
	return rows
}

// mean returns the arithmetic mean of v, NaN when v is empty.
func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
