package evaluation

import (
	"errors"
	"math"
	"testing"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestScore(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	// Errors 0.5, 0, −1, 1: MAE 2.5/4, RMSE √(2.25/4), bias 0.5/4; the labels'
	// SST is 5, so R² = 1 − 2.25/5.
	base := Predictions{Label: []float64{1, 2, 3, 4}, Pred: []float64{1.5, 2, 2, 5}}
	tests := []struct {
		name                string
		p                   Predictions
		offset              float64
		n                   int
		mae, rmse, bias, r2 float64
		coverage            float64 // −1: none
	}{
		{"hand computed", base, 0, 4, 0.625, 0.75, 0.125, 0.55, -1},
		{"missing rows skipped", Predictions{Label: []float64{1, nan, 2, 3, 4, 9},
			Pred: []float64{1.5, 7, 2, 2, 5, inf}}, 0, 4, 0.625, 0.75, 0.125, 0.55, -1},
		{"labels far from zero", base, 1e6, 4, 0.625, 0.75, 0.125, 0.55, -1},
		// Intervals [pred − 0.6, pred + 0.6] hold the labels of rows 1 and 2.
		{"coverage", Predictions{Label: base.Label, Pred: base.Pred,
			Lower: []float64{0.9, 1.4, 1.4, 4.4}, Upper: []float64{2.1, 2.6, 2.6, 5.6}},
			0, 4, 0.625, 0.75, 0.125, 0.55, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := shifted(tt.p, tt.offset)
			m, err := Score(p)
			if err != nil {
				t.Fatal(err)
			}
			if m.N != tt.n || !near(m.MAE, tt.mae, 1e-9) || !near(m.RMSE, tt.rmse, 1e-9) ||
				!near(m.Bias, tt.bias, 1e-9) || m.R2 == nil || !near(*m.R2, tt.r2, 1e-9) {
				t.Errorf("got %+v (R² %v), want n %d MAE %v RMSE %v bias %v R² %v", m,
					deref(m.R2), tt.n, tt.mae, tt.rmse, tt.bias, tt.r2)
			}
			if tt.coverage < 0 && m.Coverage != nil || tt.coverage >= 0 &&
				(m.Coverage == nil || *m.Coverage != tt.coverage) {
				t.Errorf("coverage %v, want %v", deref(m.Coverage), tt.coverage)
			}
		})
	}
}

// shifted adds offset to labels, predictions and bounds.
func shifted(p Predictions, offset float64) Predictions {
	add := func(xs []float64) []float64 {
		if xs == nil {
			return nil
		}
		out := make([]float64, len(xs))
		for i, x := range xs {
			out[i] = x + offset
		}
		return out
	}
	return Predictions{Label: add(p.Label), Pred: add(p.Pred), Lower: add(p.Lower),
		Upper: add(p.Upper), Segment: p.Segment, Group: p.Group}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestScoreUndefined(t *testing.T) {
	m, err := Score(Predictions{Label: []float64{3, 3}, Pred: []float64{2, 4}})
	if err != nil || m.R2 != nil || m.MAE != 1 {
		t.Errorf("constant labels: %+v, %v; want MAE 1 and no R²", m, err)
	}
	tests := []struct {
		name string
		p    Predictions
		want error
	}{
		{"no rows", Predictions{}, ErrNoRows},
		{"all missing", Predictions{Label: []float64{math.NaN()}, Pred: []float64{1}}, ErrNoRows},
		{"lengths differ", Predictions{Label: []float64{1}, Pred: []float64{1, 2}}, ErrShape},
		{"one bound", Predictions{Label: []float64{1}, Pred: []float64{1},
			Lower: []float64{0}}, ErrShape},
		{"short groups", Predictions{Label: []float64{1, 2}, Pred: []float64{1, 2},
			Group: []string{"s"}}, ErrShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Score(tt.p); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBySegment(t *testing.T) {
	p := Predictions{
		Label:   []float64{1, 2, 3, 4, 5, math.NaN()},
		Pred:    []float64{2, 2, 1, 4, 8, 1},
		Segment: []string{"run", "run", "bike", "bike", "bike", "swim"},
	}
	segs, err := BySegment(p)
	if err != nil {
		t.Fatal(err)
	}
	// bike: errors −2, 0, 3; run: 1, 0. swim has no usable row.
	want := []struct {
		seg       string
		n         int
		mae, bias float64
	}{{"bike", 3, 5.0 / 3, 1.0 / 3}, {"run", 2, 0.5, 0.5}}
	if len(segs) != len(want) {
		t.Fatalf("%d segments, want %d", len(segs), len(want))
	}
	for i, w := range want {
		s := segs[i]
		if s.Segment != w.seg || s.N != w.n || !near(s.MAE, w.mae, 1e-12) ||
			!near(s.Bias, w.bias, 1e-12) {
			t.Errorf("segment %d: %+v, want %+v", i, s, w)
		}
	}
	_, err = BySegment(Predictions{Label: []float64{1}, Pred: []float64{1}})
	if !errors.Is(err, ErrShape) {
		t.Errorf("no segments: err = %v, want ErrShape", err)
	}
}
