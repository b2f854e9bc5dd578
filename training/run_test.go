package training

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
)

// robustGoals are the goals that hold on every split of the test cohort, by margins
// far above the noise of its ten held-out athletes. The two others, the sweat
// interval's 75–85 % coverage and the anomaly recall of 90 %, rest on a few dozen
// held-out sessions and fault events: the test reports them without failing.
var robustGoals = map[string]bool{
	"sweat MAE below the Gonzalez baseline":               true,
	"core_temp_15m_c RMSE below the flat ECTemp baseline": true,
	"core_temp_30m_c RMSE below the flat ECTemp baseline": true,
	"core_temp_60m_c RMSE below the flat ECTemp baseline": true,
	"false alarms ≤ 1 per clean athlete-hour":             true,
}

func TestRunEndToEnd(t *testing.T) {
	dir, c := testCohort(t)
	o := DefaultOptions()
	o.Data, o.Registry, o.PublishAlias = dir, t.TempDir(), "production"
	var steps []string
	rep, err := Run(t.Context(), o, func(p Progress) { steps = append(steps, p.Step) })
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 6 || steps[len(steps)-1] != "publish" {
		t.Errorf("progress steps %v", steps)
	}

	t.Run("split", func(t *testing.T) {
		if len(rep.TrainAthletes)+len(rep.TestAthletes) != len(c.Athletes) ||
			len(rep.TestAthletes) != testAthletes/4 {
			t.Errorf("%d train and %d test athletes of %d", len(rep.TrainAthletes),
				len(rep.TestAthletes), len(c.Athletes))
		}
		for _, a := range rep.TestAthletes {
			if slices.Contains(rep.TrainAthletes, a) {
				t.Errorf("athlete %s on both sides", a)
			}
		}
	})

	t.Run("goals", func(t *testing.T) {
		for _, f := range rep.Families {
			for _, g := range f.Evaluation.Goals {
				t.Logf("%s: %s met=%v (%s)", f.Family, g.Name, g.Met, g.Detail)
				if robustGoals[g.Name] && !g.Met {
					t.Errorf("%s: goal %q not met: %s", f.Family, g.Name, g.Detail)
				}
			}
		}
	})

	t.Run("registry", func(t *testing.T) {
		checkPublished(t, o.Registry, dir, &rep)
	})
}

// checkPublished checks that every family of rep is in the registry, aliased
// production, with its signature, tags, card and lineage.
func checkPublished(t *testing.T, regDir, cohortDir string, rep *Report) {
	ctx := registry.WithPrincipal(t.Context(), "test")
	reg, err := local.Open(ctx, regDir)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	manifest, err := os.ReadFile(filepath.Join(cohortDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(manifest)
	fingerprint := "sha256:" + hex.EncodeToString(sum[:])

	for _, fr := range rep.Families {
		f, _ := models.FamilyByName(fr.Family)
		v, err := reg.Resolve(ctx, fr.Family, "production")
		if err != nil {
			t.Fatalf("%s: %v", fr.Family, err)
		}
		art, err := reg.Artifact(ctx, v)
		if err != nil || !bytes.Equal(art, fr.ONNX) {
			t.Errorf("%s: artifact differs from the checked export (%v)", fr.Family, err)
		}
		in := v.Signature.Inputs[0]
		if in.Name != models.InputName || in.Datatype != "FP32" ||
			!slices.Equal(in.Shape, []int64{-1, int64(len(f.Features))}) ||
			!slices.Equal(in.Features, f.Features) || len(v.Signature.Outputs) !=
			len(f.Outputs) {
			t.Errorf("%s: signature %+v", fr.Family, v.Signature)
		}

		var impute []float64
		if err := json.Unmarshal([]byte(v.Tags[models.TagImpute]), &impute); err != nil ||
			len(impute) != len(f.Features) {
			t.Errorf("%s: impute tag %q", fr.Family, v.Tags[models.TagImpute])
		}
		if _, ok := v.Tags[models.TagThreshold]; ok != (f.Name == models.Anomaly) {
			t.Errorf("%s: threshold tag present %v", fr.Family, ok)
		}

		if v.Lineage.DataFingerprint != fingerprint || v.Lineage.Seed != 1 ||
			!strings.Contains(v.Lineage.Generator, rep.Data.Generator) {
			t.Errorf("%s: lineage %+v, want fingerprint %s", fr.Family, v.Lineage,
				fingerprint)
		}
		// Versions trained with other seeds on the same data read differently in lists.
		if !strings.Contains(v.Description, "trained with seed 1 on simulated data") {
			t.Errorf("%s: description %q does not name the training seed", fr.Family,
				v.Description)
		}
		var card Card
		if err := json.Unmarshal(v.Card.Document, &card); err != nil ||
			card.TrainedOn != "simulated" || card.Data.Generator == "" {
			t.Errorf("%s: card document %s (%v)", fr.Family, v.Card.Document, err)
		}
		if !strings.Contains(v.Card.Markdown, "simulated") ||
			!strings.Contains(v.Card.Markdown, rep.Data.Generator) {
			t.Errorf("%s: card does not say it was trained on simulated data", fr.Family)
		}
		if _, ok := v.Metrics["test_rows"]; !ok || !hasBaselineMetric(v.Metrics) {
			t.Errorf("%s: metrics %v lack the model's or the baseline's", fr.Family,
				v.Metrics)
		}
	}
}

func hasBaselineMetric(m map[string]float64) bool {
	for k := range m {
		if strings.HasPrefix(k, "baseline.") {
			return true
		}
	}
	return false
}

func TestRunDeterministic(t *testing.T) {
	dir, _ := testCohort(t)
	o := DefaultOptions()
	o.Data, o.Seed = dir, 3
	// Fewer network iterations keep the test quick; determinism does not depend on it.
	o.Fit.AnomalyMaxIter = 20
	run := func() Report {
		rep, err := Run(t.Context(), o, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	a, b := run(), run()
	for i := range a.Families {
		if !bytes.Equal(a.Families[i].ONNX, b.Families[i].ONNX) {
			t.Errorf("%s: ONNX files differ between identical runs", a.Families[i].Family)
		}
	}
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ja, jb) {
		t.Errorf("reports differ between identical runs:\n%s\n%s", ja, jb)
	}
	ra, rb := a.Record(), b.Record()
	if f := ra.Fingerprints; !strings.HasPrefix(f.Data, "sha256:") ||
		!strings.HasPrefix(f.Config, "sha256:") || f.Code == "" || f.Seed != 3 {
		t.Errorf("fingerprints %+v", f)
	}
	if !reflect.DeepEqual(ra, rb) {
		t.Errorf("run records differ between identical runs:\n%+v\n%+v", ra, rb)
	}

	o.Seed = 4
	c := run()
	if slices.Equal(a.TestAthletes, c.TestAthletes) {
		t.Error("seeds 3 and 4 hold out the same athletes")
	}
	if a.Fingerprints.Config == c.Fingerprints.Config || a.RunID == c.RunID {
		t.Error("seeds 3 and 4 share a config fingerprint or run id")
	}
}

func TestRunNeedsData(t *testing.T) {
	if _, err := Run(t.Context(), DefaultOptions(), nil); !errors.Is(err, ErrNoData) {
		t.Errorf("error %v, want ErrNoData", err)
	}
}
