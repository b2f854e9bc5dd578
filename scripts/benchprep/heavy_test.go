package main

import (
	"context"
	"slices"
	"testing"

	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/models/ort/orttest"
	"github.com/hydrocast/hydrocast/registry/local"
)

func TestPublishHeavyReplacesSweatRate(t *testing.T) {
	orttest.Init(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := prepareModels(ctx, dir, true); err != nil {
		t.Fatal(err)
	}
	const width = 16
	n, err := publishHeavy(ctx, dir, width)
	if err != nil {
		t.Fatal(err)
	}

	reg, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	v, err := reg.Resolve(ctx, models.SweatRate, alias)
	if err != nil {
		t.Fatal(err)
	}
	if v.Number != n || n != 2 || v.Tags[tagOrigin] != originHeavy {
		t.Fatalf("production is v%d tagged %v; publish said v%d: want v2, the heavy model",
			v.Number, v.Tags, n)
	}
	fam, _ := models.FamilyByName(models.SweatRate)
	if got := v.Signature.Inputs[0].Features; !slices.Equal(got, fam.Features) {
		t.Errorf("features %v, want the replaced version's %v", got, fam.Features)
	}

	// The artifact runs on a batch, one row per caller, every output of the family.
	data, err := reg.Artifact(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(data, ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := len(fam.Features)
	const rows = 3
	out, err := s.Run(ctx, []ort.Tensor{{Shape: []int64{rows, int64(k)},
		Data: make([]float32, rows*k)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(fam.Outputs) {
		t.Fatalf("%d outputs, want %d", len(out), len(fam.Outputs))
	}
	for i, o := range out {
		if !slices.Equal(o.Shape, []int64{rows, 1}) {
			t.Errorf("output %d has shape %v, want [%d 1]", i, o.Shape, rows)
		}
	}

	for _, w := range []int{0, -1, 8193} {
		if _, err := publishHeavy(ctx, dir, w); err == nil {
			t.Errorf("width %d accepted", w)
		}
	}
}
