package drift

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestBuildProfileNumeric(t *testing.T) {
	values := make([]float64, 0, 1002)
	for i := range 1000 {
		values = append(values, float64(i))
	}
	values = append(values, math.NaN(), math.Inf(1))
	p, err := BuildProfile([]Column{{Name: "x", Values: values}},
		ProfileOptions{Bins: 4, SampleSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	f := p.Features[0]
	if p.Rows != 1002 || f.Count != 1000 || f.Missing != 2 || !near(f.MissingShare, 2.0/1002, 1e-15) {
		t.Errorf("rows %d, count %d, missing %d (%v)", p.Rows, f.Count, f.Missing, f.MissingShare)
	}
	if f.Min != 0 || f.Max != 999 || !near(f.Mean, 499.5, 1e-9) {
		t.Errorf("min %v, max %v, mean %v", f.Min, f.Max, f.Mean)
	}
	// Linear interpolation over 0..999: the p-quantile is 999·p.
	for _, q := range f.Quantiles {
		if !near(q.Value, 999*q.P, 1e-9) {
			t.Errorf("quantile %v = %v, want %v", q.P, q.Value, 999*q.P)
		}
	}
	wantEdges := []float64{249.75, 499.5, 749.25}
	wantCounts := []int64{250, 250, 250, 250}
	if !reflect.DeepEqual(f.Edges, wantEdges) || !reflect.DeepEqual(f.Counts, wantCounts) {
		t.Errorf("edges %v counts %v, want %v and 250 each", f.Edges, f.Counts, wantEdges)
	}
	if len(f.Sample) != 100 || f.Levels != nil {
		t.Fatalf("sample of %d, levels %v; want 100 and none", len(f.Sample), f.Levels)
	}
	// More values than SampleSize: the sample holds the quantiles at (i + ½)/100.
	for i, v := range f.Sample {
		if want := 999 * (float64(i) + 0.5) / 100; !near(v, want, 1e-9) {
			t.Errorf("sample[%d] = %v, want %v", i, v, want)
		}
	}
}

func TestBuildProfileDiscreteAndConstant(t *testing.T) {
	flags := []float64{0, 1, 1, 0, 1, math.NaN()}
	constant := []float64{7, 7, 7, 7, 7, 7}
	p, err := BuildProfile([]Column{{Name: "flag", Values: flags},
		{Name: "const", Values: constant}}, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	flag, c := p.Features[0], p.Features[1]
	if !reflect.DeepEqual(flag.Levels, []float64{0, 1}) ||
		!reflect.DeepEqual(flag.Categories, []string{"0", "1"}) ||
		!reflect.DeepEqual(flag.CategoryCounts, []int64{2, 3}) || !flag.Discrete() {
		t.Errorf("flag: levels %v categories %v counts %v", flag.Levels, flag.Categories,
			flag.CategoryCounts)
	}
	if !reflect.DeepEqual(c.Edges, []float64{7}) || !reflect.DeepEqual(c.Counts, []int64{0, 6}) ||
		c.Std != 0 {
		t.Errorf("constant: edges %v counts %v std %v", c.Edges, c.Counts, c.Std)
	}

	off, err := BuildProfile([]Column{{Name: "flag", Values: flags}},
		ProfileOptions{MaxLevels: -1})
	if err != nil {
		t.Fatal(err)
	}
	if f := off.Features[0]; f.Levels != nil || f.Discrete() {
		t.Errorf("MaxLevels −1 still found levels %v", f.Levels)
	}
}

func TestBuildProfileCategorical(t *testing.T) {
	cats := []string{"run", "bike", "run", "", "swim", "run", "bike", "row"}
	p, err := BuildProfile([]Column{{Name: "sport", Categories: cats}},
		ProfileOptions{MaxCategories: 2})
	if err != nil {
		t.Fatal(err)
	}
	f := p.Features[0]
	if !reflect.DeepEqual(f.Categories, []string{"run", "bike"}) ||
		!reflect.DeepEqual(f.CategoryCounts, []int64{3, 2}) || f.Other != 2 ||
		f.Count != 7 || f.Missing != 1 {
		t.Errorf("got %+v", f)
	}
}

func TestBuildProfileErrors(t *testing.T) {
	tests := []struct {
		name string
		cols []Column
		want error
	}{
		{"empty name", []Column{{Values: []float64{1}}}, ErrInvalid},
		{"repeated name", []Column{{Name: "a", Values: []float64{1}},
			{Name: "a", Values: []float64{2}}}, ErrInvalid},
		{"neither values nor categories", []Column{{Name: "a"}}, ErrInvalid},
		{"rows differ", []Column{{Name: "a", Values: []float64{1}},
			{Name: "b", Values: []float64{1, 2}}}, ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := BuildProfile(tt.cols, ProfileOptions{}); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestProfileJSONRoundTrip(t *testing.T) {
	p := testProfile(t, 500, 3000)
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeProfile(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Error("profile changed in a JSON round trip")
	}
}

func TestDecodeProfileRejects(t *testing.T) {
	good, err := json.Marshal(testProfile(t, 100, 100))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new string
	}{
		{"wrong format", `"format":1`, `"format":2`},
		{"unknown kind", `"kind":"numeric"`, `"kind":"text"`},
		{"negative count", `"count":100`, `"count":-100`},
		{"counts do not add up", `"counts":[`, `"counts":[1000,`},
		{"unsorted edges", `"edges":[`, `"edges":[1e300,`},
		{"missing share above one", `"missing_share":0`, `"missing_share":2`},
		{"not json", `{`, `[`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tt.old, tt.new, 1)
			if bad == string(good) {
				t.Fatalf("%q not found in the profile", tt.old)
			}
			if _, err := DecodeProfile([]byte(bad)); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
