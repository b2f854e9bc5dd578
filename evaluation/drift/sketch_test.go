package drift

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func numericFeature(t *testing.T) *FeatureProfile {
	t.Helper()
	values := make([]float64, 100)
	for i := range values {
		values[i] = float64(i)
	}
	p, err := BuildProfile([]Column{{Name: "x", Values: values}}, ProfileOptions{Bins: 4})
	if err != nil {
		t.Fatal(err)
	}
	return &p.Features[0]
}

func TestSketchAdd(t *testing.T) {
	f := numericFeature(t) // edges 24.75, 49.5, 74.25
	s := NewSketch(f, SketchOptions{Reservoir: 3, Seed: 1})
	for _, v := range []float64{-5, 10, 30, 60, 80, 500, math.NaN(), math.Inf(-1)} {
		s.Add(v)
	}
	s.AddCategory("a") // wrong kind: missing
	if present, missing := s.Count(); present != 6 || missing != 3 {
		t.Errorf("count %d present, %d missing; want 6 and 3", present, missing)
	}
	if !reflect.DeepEqual(s.bins, []int64{2, 1, 1, 2}) || s.lo != -5 || s.hi != 500 {
		t.Errorf("bins %v range [%v, %v]", s.bins, s.lo, s.hi)
	}
	if len(s.reservoir) != 3 || s.seen != 6 {
		t.Errorf("reservoir %v after %d values, want 3 kept", s.reservoir, s.seen)
	}
}

func TestSketchReservoirIsUniform(t *testing.T) {
	// Each of 0..99 should land in a 10-slot reservoir 10 % of the time.
	f := numericFeature(t)
	hits := make([]int, 100)
	const runs = 4000
	for r := range runs {
		s := NewSketch(f, SketchOptions{Reservoir: 10, Seed: uint64(r)})
		for v := range 100 {
			s.Add(float64(v))
		}
		for _, v := range s.reservoir {
			hits[int(v)]++
		}
	}
	for v, h := range hits {
		// Binomial(4000, 0.1): sd ≈ 19; allow five of them.
		if h < 400-95 || h > 400+95 {
			t.Errorf("value %d kept %d times in %d runs, want about 400", v, h, runs)
		}
	}
}

func TestSketchCategories(t *testing.T) {
	p, err := BuildProfile([]Column{{Name: "sport",
		Categories: []string{"run", "bike", "run"}}}, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSketch(&p.Features[0], SketchOptions{MaxUnseen: 1})
	for _, c := range []string{"run", "ski", "ski", "row", "", "bike"} {
		s.AddCategory(c)
	}
	s.Add(3) // wrong kind: missing
	labels, ref, live := s.histogram(&p.Features[0])
	wantLabels := []string{"run", "bike", "ski", "other"}
	if !reflect.DeepEqual(labels, wantLabels) || !reflect.DeepEqual(ref, []float64{2, 1, 0, 0}) ||
		!reflect.DeepEqual(live, []float64{1, 1, 2, 1}) {
		t.Errorf("histogram %v %v %v", labels, ref, live)
	}
	if present, missing := s.Count(); present != 5 || missing != 2 {
		t.Errorf("count %d present, %d missing", present, missing)
	}
}

func TestSketchMerge(t *testing.T) {
	f := numericFeature(t)
	a := NewSketch(f, SketchOptions{Reservoir: 50, Seed: 1})
	b := NewSketch(f, SketchOptions{Reservoir: 50, Seed: 2})
	whole := NewSketch(f, SketchOptions{Reservoir: 50, Seed: 3})
	for v := range 300 {
		x := float64(v % 100)
		whole.Add(x)
		if v < 200 {
			a.Add(x)
		} else {
			b.Add(x)
		}
	}
	b.Add(math.NaN())
	whole.Add(math.NaN())
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.bins, whole.bins) || a.count != whole.count ||
		a.missing != whole.missing || a.seen != 300 || len(a.reservoir) != 50 {
		t.Errorf("merged bins %v count %d missing %d seen %d reservoir %d; whole %v %d %d",
			a.bins, a.count, a.missing, a.seen, len(a.reservoir), whole.bins, whole.count,
			whole.missing)
	}

	other := NewSketch(&testProfile(t, 50, 50).Features[0], SketchOptions{})
	if err := a.Merge(other); !errors.Is(err, ErrMismatch) {
		t.Errorf("merging different bins: err = %v, want ErrMismatch", err)
	}
	if err := a.Merge(a); !errors.Is(err, ErrMismatch) {
		t.Errorf("merging itself: err = %v, want ErrMismatch", err)
	}
}

func TestSketchJSONResumes(t *testing.T) {
	f := numericFeature(t)
	a := NewSketch(f, SketchOptions{Reservoir: 5, Seed: 4})
	for v := range 40 {
		a.Add(float64(v))
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var b Sketch
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	// Both carry on with the same random state, so they stay identical.
	for v := 40; v < 400; v++ {
		a.Add(float64(v % 100))
		b.Add(float64(v % 100))
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(&b)
	if string(ja) != string(jb) {
		t.Errorf("restored sketch diverged:\n%s\n%s", ja, jb)
	}
}

func TestSketchJSONRejects(t *testing.T) {
	f := numericFeature(t)
	s := NewSketch(f, SketchOptions{Reservoir: 5})
	for v := range 20 {
		s.Add(float64(v))
	}
	good, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, old, new string }{
		{"bins do not add up", `"bins":[`, `"bins":[7,`},
		{"count too high", `"count":20`, `"count":21`},
		{"reservoir outside range", `"reservoir":[`, `"reservoir":[1e9,`},
		{"unknown kind", `"kind":"numeric"`, `"kind":"x"`},
		{"huge capacity", `"capacity":5`, `"capacity":5000000000`},
		{"min above max", `"min":0`, `"min":100`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tt.old, tt.new, 1)
			if bad == string(good) {
				t.Fatalf("%q not in %s", tt.old, good)
			}
			var got Sketch
			if err := json.Unmarshal([]byte(bad), &got); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestSketchConcurrentAdds(t *testing.T) {
	s := NewSketch(numericFeature(t), SketchOptions{Reservoir: 64})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range 1000 {
				s.Add(float64((g*1000 + v) % 100))
				if v%100 == 0 {
					_, _ = json.Marshal(s)
				}
			}
		}()
	}
	wg.Wait()
	if present, _ := s.Count(); present != 8000 {
		t.Errorf("count %d after 8000 concurrent adds", present)
	}
}
