package training

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/evaluation/drift"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
)

// TestRunGatesAgainstProduction trains the sweat family three times into one
// registry: a first version with no gates, a second gated on the first (now in
// production) and a third refused by an impossible gate.
func TestRunGatesAgainstProduction(t *testing.T) {
	dir, _ := testCohort(t)
	o := DefaultOptions()
	o.Data, o.Registry, o.PublishAlias = dir, t.TempDir(), "production"
	o.Families = []string{models.SweatRate}
	run := func(gates ...string) Report {
		t.Helper()
		o.Gates = nil
		for _, s := range gates {
			g, err := ParseGate(s)
			if err != nil {
				t.Fatal(err)
			}
			o.Gates = append(o.Gates, g)
		}
		rep, err := Run(t.Context(), o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Families) != 1 {
			t.Fatalf("%d families trained, want the sweat family only", len(rep.Families))
		}
		return rep
	}

	first := run()
	if fr := first.Families[0]; fr.Production != nil || fr.Version != 1 || fr.Refused {
		t.Fatalf("first run: production %+v, version %d, refused %v", fr.Production,
			fr.Version, fr.Refused)
	}

	second := run("mae_vs_production <= 1.02", "mae_vs_baseline < 1")
	fr := second.Families[0]
	if fr.Production == nil || fr.Production.Version != 1 || fr.Production.Error != "" {
		t.Fatalf("second run compared with %+v, want version 1", fr.Production)
	}
	// Same data and seed: the candidate is the production model, up to float32.
	if len(fr.Gates) != 2 || math.Abs(fr.Gates[0].Value-1) > 1e-4 || fr.Refused ||
		fr.Version != 2 {
		t.Fatalf("second run: gates %+v, refused %v, version %d", fr.Gates, fr.Refused,
			fr.Version)
	}

	third := run("sweat-rate:mae < 0")
	fr = third.Families[0]
	if !fr.Refused || len(fr.Reasons) != 1 || !strings.Contains(fr.Reasons[0], "mae < 0") {
		t.Fatalf("third run: refused %v, reasons %q", fr.Refused, fr.Reasons)
	}
	if rec := third.Record(); rec.Families[0].Decision != "refused" {
		t.Errorf("record decision %q, want refused", rec.Families[0].Decision)
	}

	ctx := registry.WithPrincipal(t.Context(), "test")
	reg, err := local.Open(ctx, o.Registry)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	prod, err := reg.Resolve(ctx, models.SweatRate, "production")
	if err != nil || prod.Number != 2 {
		t.Fatalf("production is %d (%v), want 2: a refused candidate moved the alias",
			prod.Number, err)
	}
	refused, err := reg.Version(ctx, models.SweatRate, fr.Version)
	if err != nil || refused.Status != registry.StatusFailed ||
		!strings.Contains(refused.StatusReason, "mae < 0") {
		t.Errorf("refused version %d: status %s, reason %q (%v)", fr.Version,
			refused.Status, refused.StatusReason, err)
	}

	checkReference(t, prod, second.Families[0])
}

// checkReference checks that the version's reference profile is the run's and
// profiles every input feature and output of the family over the training rows.
func checkReference(t *testing.T, v registry.Version, fr FamilyReport) {
	t.Helper()
	if !bytes.Equal(v.Reference, fr.Reference) {
		t.Fatal("stored reference profile differs from the run's")
	}
	p, err := drift.DecodeProfile(v.Reference)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := models.FamilyByName(fr.Family)
	want := slices.Clone(f.Features)
	for _, o := range f.Outputs {
		want = append(want, o.Name)
	}
	if !slices.Equal(p.Names(), want) || p.Rows != int64(fr.TrainRows) {
		t.Errorf("profile of %d rows over %v, want %d rows over %v", p.Rows, p.Names(),
			fr.TrainRows, want)
	}
	for _, fp := range p.Features {
		if fp.Count > 0 && fp.Kind == drift.Numeric && len(fp.Quantiles) == 0 &&
			len(fp.Levels) == 0 {
			t.Errorf("feature %s has values but no quantiles", fp.Name)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(v.Reference, &doc); err != nil {
		t.Error(err)
	}
}
