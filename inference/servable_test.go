package inference_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry"
)

func familySignature(fam models.Family) registry.Signature {
	sig := registry.Signature{Inputs: []registry.Tensor{{Name: models.InputName,
		Datatype: "FP32", Shape: []int64{-1, int64(len(fam.Features))},
		Features: fam.Features}}}
	for _, o := range fam.Outputs {
		sig.Outputs = append(sig.Outputs, registry.Tensor{Name: o.Name, Datatype: "FP32",
			Shape: []int64{-1, 1}})
	}
	return sig
}

func TestCheckServable(t *testing.T) {
	sweat, _ := models.FamilyByName(models.SweatRate)
	good := familySignature(sweat)
	if err := inference.CheckServable(models.SweatRate, good); err != nil {
		t.Fatalf("the family's own signature: %v", err)
	}

	unknown := familySignature(sweat)
	unknown.Inputs[0].Features = []string{"heart_rate_bpm_mean_15m", "humidity_pct", "a"}
	oneOutput := familySignature(sweat)
	oneOutput.Outputs = oneOutput.Outputs[:1]
	cases := []struct {
		name, model string
		sig         registry.Signature
		want        []string
	}{
		{"unknown features", models.SweatRate, unknown, []string{`"humidity_pct"`, `"a"`}},
		{"unknown features, any model", "my-model", unknown, []string{`"a"`}},
		{"missing family outputs", models.SweatRate, oneOutput,
			[]string{models.OutSweatRateLower, models.OutSweatRateUpper}},
		{"no featured input", models.SweatRate, registry.Signature{
			Inputs: []registry.Tensor{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 3}}}},
			[]string{"--inputs-from-features"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := inference.CheckServable(c.model, c.sig)
			if !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}

	// A model outside the families needs only known features.
	other := registry.Signature{Inputs: []registry.Tensor{{Name: "x", Datatype: "FP32",
		Shape: []int64{-1, 1}, Features: []string{"wbgt_c"}}},
		Outputs: []registry.Tensor{{Name: "y", Datatype: "FP32", Shape: []int64{-1, 1}}}}
	if err := inference.CheckServable("my-model", other); err != nil {
		t.Errorf("other model: %v", err)
	}
}
