package registry_test

import (
	"errors"
	"math"
	"strconv"
	"testing"

	"github.com/hydrocast/hydrocast/registry"
)

func TestParseSplit(t *testing.T) {
	tests := []struct {
		in   string
		want string // Split() of the result, or "" for an error
	}{
		{"3=90,4=10", "3=90,4=10"},
		{" 4=0.5 , 3=0.5", "4=0.5,3=0.5"},
		{"7=100", "7=100"},
		{"", ""},
		{"3", ""},
		{"3=", ""},
		{"x=1", ""},
		{"0=1", ""},
		{"3=-1", ""},
		{"3=NaN", ""},
		{"3=Inf", ""},
		{"3=90,,4=10", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			arms, err := registry.ParseSplit(tt.in)
			if tt.want == "" {
				if !errors.Is(err, registry.ErrInvalid) {
					t.Errorf("arms %v, error %v; want ErrInvalid", arms, err)
				}
				return
			}
			got := registry.TrafficPolicy{Arms: arms}.Split()
			if err != nil || got != tt.want {
				t.Errorf("got %q (error %v), want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzParseSplit(f *testing.F) {
	for _, s := range []string{"3=90,4=10", "1=1", "2=0.5,3=0.5", "=,", "9=1e308"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		arms, err := registry.ParseSplit(s)
		if err != nil {
			if !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, a := range arms {
			if a.Version < 1 || !(a.Weight > 0) || math.IsInf(a.Weight, 0) {
				t.Fatalf("accepted arm %+v", a)
			}
		}
		// What parses either passes Check or fails it with ErrInvalid.
		p := registry.TrafficPolicy{Model: "m", Arms: arms}
		if err := p.Check(); err != nil && !errors.Is(err, registry.ErrInvalid) {
			t.Fatalf("check: %v", err)
		}
		if err == nil {
			if i := p.Assign("a-1"); i < 0 || i >= len(arms) {
				t.Fatalf("assigned arm %d of %d", i, len(arms))
			}
		}
	})
}

func TestAssignIsStickyAndFollowsWeights(t *testing.T) {
	p := registry.TrafficPolicy{Model: "sweat-rate", Salt: "exp-1",
		Arms: []registry.TrafficArm{{Version: 3, Weight: 90}, {Version: 4, Weight: 10}}}
	const n = 20000
	counts := make([]int, 2)
	for i := range n {
		id := "athlete-" + string(rune('a'+i%26)) + "-" + strconv.Itoa(i)
		arm := p.Assign(id)
		if again := p.Assign(id); again != arm {
			t.Fatalf("%s assigned %d then %d", id, arm, again)
		}
		counts[arm]++
	}
	// Binomial with p = 0.1: standard deviation √(n·0.1·0.9) ≈ 42; allow 5 of them.
	if d := math.Abs(float64(counts[1]) - 0.1*n); d > 5*math.Sqrt(n*0.1*0.9) {
		t.Errorf("version 4 got %d of %d athletes, want about %d", counts[1], n, n/10)
	}

	// Ramping the newer version up moves athletes only toward it.
	ramp := p
	ramp.Arms = []registry.TrafficArm{{Version: 3, Weight: 50}, {Version: 4, Weight: 50}}
	for i := range 2000 {
		id := "athlete-" + strconv.Itoa(i)
		if p.Assign(id) == 1 && ramp.Assign(id) != 1 {
			t.Fatalf("%s left version 4 when its share grew", id)
		}
	}
}
