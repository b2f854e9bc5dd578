package drift

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestPSI(t *testing.T) {
	tests := []struct {
		name      string
		ref, live []float64
		want      float64
	}{
		{"identical counts", []float64{10, 20, 30}, []float64{10, 20, 30}, 0},
		{"identical shares, other totals", []float64{1, 2, 3}, []float64{100, 200, 300}, 0},
		// (0.25−0.5)·ln(0.25/0.5) + (0.75−0.5)·ln(0.75/0.5) = 0.173287 + 0.101366.
		{"hand computed", []float64{50, 50}, []float64{25, 75}, 0.274653},
		// Empty bins are floored at 1e-4: 2·(1 − 1e-4)·ln(1e4).
		{"disjoint with floor", []float64{1, 0}, []float64{0, 1}, 2 * 0.9999 * math.Log(1e4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PSI(tt.ref, tt.live)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tt.want, 1e-6) {
				t.Errorf("PSI = %.6f, want %.6f", got, tt.want)
			}
		})
	}
}

func TestPSILevel(t *testing.T) {
	tests := []struct {
		psi  float64
		want Level
	}{
		{0, LevelNone}, {0.099, LevelNone}, {0.1, LevelModerate}, {0.249, LevelModerate},
		{0.25, LevelMajor}, {3, LevelMajor},
	}
	for _, tt := range tests {
		if got := PSILevel(tt.psi, 0.1, 0.25); got != tt.want {
			t.Errorf("PSILevel(%v) = %s, want %s", tt.psi, got, tt.want)
		}
	}
}

func TestJensenShannon(t *testing.T) {
	tests := []struct {
		name      string
		ref, live []float64
		want      float64
	}{
		{"identical", []float64{3, 1, 6}, []float64{30, 10, 60}, 0},
		{"disjoint is 1 in base 2", []float64{5, 5, 0, 0}, []float64{0, 0, 2, 9}, 1},
		// m = (0.75, 0.25); KL(p‖m) = log2(4/3) = 0.415037; KL(q‖m) = 0.207519;
		// JSD = 0.311278 and the distance is its square root.
		{"hand computed", []float64{1, 0}, []float64{1, 1}, math.Sqrt(0.311278)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JensenShannon(tt.ref, tt.live)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tt.want, 1e-6) {
				t.Errorf("JS = %.7f, want %.7f", got, tt.want)
			}
		})
	}
}

func TestChiSquare(t *testing.T) {
	tests := []struct {
		name      string
		ref, live []float64
		stat      float64
		df        int
		p         float64
	}{
		// Expected counts 15, 20, 25 in both rows: 2·(25/15 + 0 + 25/25) = 16/3. With
		// two degrees of freedom the upper tail is exp(−x/2).
		{"2x3 table", []float64{10, 20, 30}, []float64{20, 20, 20}, 16.0 / 3, 2,
			math.Exp(-8.0 / 3)},
		// A category the reference never saw: expected 7.5 and 2.5 per row, so
		// 2·(2.5²/7.5 + 2.5²/2.5) = 20/3; one degree of freedom: erfc(√(x/2)).
		{"unseen category", []float64{10, 0}, []float64{5, 5}, 20.0 / 3, 1,
			math.Erfc(math.Sqrt(10.0 / 3))},
		{"single category", []float64{7, 0}, []float64{3, 0}, 0, 0, 1},
		{"same shares", []float64{4, 6}, []float64{40, 60}, 0, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ChiSquare(tt.ref, tt.live)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got.Statistic, tt.stat, 1e-9) || got.DF != tt.df || !near(got.PValue, tt.p, 1e-9) {
				t.Errorf("ChiSquare = %+v, want statistic %.6f, df %d, p %.6f", got, tt.stat,
					tt.df, tt.p)
			}
		})
	}
}

func TestWassersteinShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := make([]float64, 300)
	for i := range base {
		base[i] = rng.NormFloat64()*3 + 10
	}
	for _, shift := range []float64{0, 0.5, -2, 40} {
		moved := make([]float64, len(base))
		for i, v := range base {
			moved[i] = v + shift
		}
		got, err := Wasserstein(base, moved)
		if err != nil {
			t.Fatal(err)
		}
		if !near(got, math.Abs(shift), 1e-9) {
			t.Errorf("shift %v: W = %v", shift, got)
		}
	}
}

func TestWasserstein(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want float64
	}{
		// F_a jumps to 1 at 0; F_b is ½ on [1, 2): ∫₀¹ 1 + ∫₁² ½ = 1.5.
		{"hand computed", []float64{0}, []float64{1, 2}, 1.5},
		{"same sample", []float64{3, 1, 2}, []float64{1, 2, 3}, 0},
		{"missing values ignored", []float64{0, math.NaN(), math.Inf(1)}, []float64{2}, 2},
		{"extremes stay finite", []float64{-math.MaxFloat64}, []float64{math.MaxFloat64},
			math.MaxFloat64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Wasserstein(tt.a, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tt.want, 1e-12) {
				t.Errorf("W = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWassersteinNormalized(t *testing.T) {
	tests := []struct {
		name      string
		ref, live []float64
		want      float64
	}{
		// The reference {0, 2} has population standard deviation 1.
		{"shift by one sd", []float64{0, 2}, []float64{1, 3}, 1},
		{"shift by a tenth", []float64{0, 2}, []float64{0.1, 2.1}, 0.1},
		// Constant reference: pooled {5, 5, 6, 6} has standard deviation 0.5.
		{"constant reference", []float64{5, 5}, []float64{6, 6}, 2},
		{"same constant", []float64{5, 5}, []float64{5}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WassersteinNormalized(tt.ref, tt.live)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tt.want, 1e-12) {
				t.Errorf("normalised W = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFloat32Inputs(t *testing.T) {
	ref := []float32{1, 2, 3, 4, float32(math.NaN())}
	live := []float32{2, 3, 4, 5, float32(math.Inf(-1))}
	w, err := Wasserstein(ref, live)
	if err != nil || w != 1 {
		t.Errorf("Wasserstein(float32) = %v, %v; want 1", w, err)
	}
	ks, err := KS(ref, live)
	if err != nil || ks.D != 0.25 || ks.N != 4 || ks.M != 4 {
		t.Errorf("KS(float32) = %+v, %v; want D 0.25 on 4 and 4 values", ks, err)
	}
}

func TestNotEnoughData(t *testing.T) {
	nan := math.NaN()
	empty, allNaN := []float64{}, []float64{nan, math.Inf(1), nan}
	full := []float64{1, 2, 3}
	tests := []struct {
		name string
		run  func() error
	}{
		{"ks empty", func() error { _, err := KS(empty, full); return err }},
		{"ks all missing", func() error { _, err := KS(full, allNaN); return err }},
		{"wasserstein empty", func() error { _, err := Wasserstein(full, empty); return err }},
		{"normalised all missing", func() error {
			_, err := WassersteinNormalized(allNaN, full)
			return err
		}},
		{"psi empty live", func() error { _, err := PSI([]float64{1, 2}, []float64{0, 0}); return err }},
		{"psi no bins", func() error { _, err := PSI(nil, nil); return err }},
		{"js empty ref", func() error {
			_, err := JensenShannon([]float64{0, 0}, []float64{1, 0})
			return err
		}},
		{"chi-square empty", func() error {
			_, err := ChiSquare([]float64{0}, []float64{0})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, ErrNotEnoughData) {
				t.Errorf("err = %v, want ErrNotEnoughData", err)
			}
		})
	}
}

func TestHistogramInputErrors(t *testing.T) {
	tests := []struct {
		name      string
		ref, live []float64
		want      error
	}{
		{"lengths differ", []float64{1, 2}, []float64{1}, ErrMismatch},
		{"negative count", []float64{1, -2}, []float64{1, 1}, ErrInvalid},
		{"NaN count", []float64{1, 1}, []float64{math.NaN(), 1}, ErrInvalid},
		{"infinite count", []float64{math.Inf(1), 1}, []float64{1, 1}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errP := PSI(tt.ref, tt.live)
			_, errJ := JensenShannon(tt.ref, tt.live)
			_, errC := ChiSquare(tt.ref, tt.live)
			for _, err := range []error{errP, errJ, errC} {
				if !errors.Is(err, tt.want) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
			}
		})
	}
}

func TestHugeCountsStayFinite(t *testing.T) {
	ref := []float64{math.MaxFloat64, math.MaxFloat64, 0}
	live := []float64{0, math.MaxFloat64, math.MaxFloat64}
	chi, err := ChiSquare(ref, live)
	if err != nil || chi.Statistic != math.MaxFloat64 || chi.PValue != 0 {
		t.Errorf("ChiSquare = %+v, %v; want a saturated statistic and p 0", chi, err)
	}
	psi, err := PSI(ref, live)
	if err != nil || !finite(psi) || psi <= 0 {
		t.Errorf("PSI = %v, %v", psi, err)
	}
}
