package inference

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/evaluation/drift"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry"
)

func TestDriftRecorderFeedsInputsAndOutputs(t *testing.T) {
	fam, _ := models.FamilyByName(models.SweatRate)
	// A reference over two inputs and the main output, as training stores it.
	n := 200
	hr, hr60 := make([]float64, n), make([]float64, n)
	fluid, sweat := make([]float64, n), make([]float64, n)
	for i := range n {
		hr[i], hr60[i] = 120+float64(i%40), 125+float64(i%30)
		fluid[i], sweat[i] = float64(i*5), 0.8+float64(i%9)/10
	}
	p, err := drift.BuildProfile([]drift.Column{
		{Name: "heart_rate_bpm_mean_15m", Values: hr},
		{Name: "heart_rate_bpm_mean_60m", Values: hr60},
		{Name: "fluid_cum_ml", Values: fluid}, {Name: models.OutSweatRate, Values: sweat},
	}, drift.ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := json.Marshal(p)
	idx, err := features.CurrentSchema().Indices(fam.Features)
	if err != nil {
		t.Fatal(err)
	}
	m := &LoadedModel{Family: fam, featureIdx: idx, Version: registry.Version{
		Model: fam.Name, Number: 5, Reference: ref, Signature: registry.Signature{
			Inputs: []registry.Tensor{{Name: models.InputName, Features: fam.Features}}}}}

	live, err := drift.NewLive(drift.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := NewDriftRecorder(live)
	v := features.NewVector()
	v.Reset("a-1", time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC))
	set := func(k int, x float64, st features.Status) {
		v.Values[idx[k]], v.Status[idx[k]] = x, st
	}
	set(0, 130, features.StatusPresent) // heart_rate_bpm_mean_15m
	set(10, 900, features.StatusStale)  // fluid_cum_ml, the last input: stale counts
	set(1, 150, features.StatusMissing) // a missing value is not recorded, whatever it holds
	for range 40 {
		rec.Record(m, v, map[string]float64{models.OutSweatRate: 1.1,
			models.OutSweatRateLower: 0.7})
	}
	var nilRec *DriftRecorder
	nilRec.Record(m, v, nil) // must not panic

	r := live.Monitor(drift.Key{Model: fam.Name, Version: 5}).Report(drift.Options{})
	for _, f := range r.Features {
		if f.Name == "heart_rate_bpm_mean_60m" {
			if f.Live.Count != 0 || f.Live.Missing != 40 {
				t.Errorf("%s: %d present and %d missing, want 0 and 40", f.Name,
					f.Live.Count, f.Live.Missing)
			}
			continue
		}
		if f.Live.Count != 40 || f.Live.Min != f.Live.Max {
			t.Errorf("%s: %d live values in [%v, %v], want 40 equal ones", f.Name,
				f.Live.Count, f.Live.Min, f.Live.Max)
		}
		want := map[string]float64{"heart_rate_bpm_mean_15m": 130, "fluid_cum_ml": 900,
			models.OutSweatRate: 1.1}[f.Name]
		if math.Abs(f.Live.Min-want) > 1e-6 {
			t.Errorf("%s recorded as %v, want %v", f.Name, f.Live.Min, want)
		}
	}
}
