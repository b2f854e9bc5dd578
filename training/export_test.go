package training

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/models/ort/orttest"
)

// syntheticDataset returns n rows for family name: inputs of realistic scale with
// about 5 % missing, labels a noisy linear function of them (for a classifier, its
// sign), and athletes a to e in turn.
func syntheticDataset(t *testing.T, name string, n int) *Dataset {
	t.Helper()
	f, ok := models.FamilyByName(name)
	if !ok {
		t.Fatalf("no family %s", name)
	}
	rng := rand.New(rand.NewPCG(31, 32))
	k := len(f.Features)
	labels := 1
	if name == models.ThermalTrajectory {
		labels = 3
	}
	d := &Dataset{Family: f, X: mat.NewDense(n, k, nil), Y: mat.NewDense(n, labels, nil),
		Baseline: mat.NewDense(n, labels, nil)}
	for i := range n {
		var sum float64
		for j := range k {
			x := float64(10*(j+1)) + float64(j+1)*rng.NormFloat64()
			sum += (x - float64(10*(j+1))) / float64(j+1)
			if rng.Float64() < 0.05 {
				x = math.NaN()
			}
			d.X.Set(i, j, x)
		}
		for h := range labels {
			y := 1 + 0.1*sum + float64(h) + 0.05*rng.NormFloat64()
			if name == models.Anomaly {
				y = 0
				if sum+rng.NormFloat64() > 2 {
					y = 1
				}
			}
			d.Y.Set(i, h, y)
		}
		d.Athletes = append(d.Athletes, string(rune('a'+i%5)))
		d.When = append(d.When, Timeline{Session: d.Athletes[i], Minute: i / 5})
	}
	return d
}

func TestExportMatchesRuntime(t *testing.T) {
	orttest.Init(t)
	cases := []struct {
		family string
		fit    func(*Dataset, FitOptions) (*Model, error)
		opts   FitOptions
	}{
		{models.SweatRate, FitSweat, FitOptions{}},
		{models.ThermalTrajectory, FitThermal, FitOptions{}},
		{models.Anomaly, FitAnomaly, FitOptions{AnomalyMaxIter: 30}},
		{models.Anomaly, FitAnomaly, FitOptions{AnomalyHidden: -1}},
	}
	for _, c := range cases {
		t.Run(c.family, func(t *testing.T) {
			d := syntheticDataset(t, c.family, 400)
			m, err := c.fit(d, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			data, err := m.Export(ExportMeta{CodeVersion: "test", Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			check, err := CheckExport(t.Context(), m, data, d)
			if err != nil {
				t.Fatal(err)
			}
			if check.Rows != 400 {
				t.Errorf("checked %d rows, want 400", check.Rows)
			}

			again, err := m.Export(ExportMeta{CodeVersion: "test", Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, again) {
				t.Error("exporting the same model twice gave different bytes")
			}
		})
	}
}

func TestCheckExportCatchesMismatch(t *testing.T) {
	orttest.Init(t)
	d := syntheticDataset(t, models.SweatRate, 200)
	m, err := FitSweat(d, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Export(ExportMeta{})
	if err != nil {
		t.Fatal(err)
	}
	m.Linear.Bias[1] += 1e-3 // the lower bound of the Go model moves, the file's not
	if _, err := CheckExport(t.Context(), m, data, d); !errors.Is(err, ErrExportMismatch) {
		t.Errorf("error %v, want ErrExportMismatch", err)
	}
}

func TestExportMetadata(t *testing.T) {
	d := syntheticDataset(t, models.Anomaly, 300)
	m, err := FitAnomaly(d, FitOptions{AnomalyMaxIter: 20})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Export(ExportMeta{CodeVersion: "v9", GeneratorVersion: "gen/1", Seed: 5,
		DataFingerprint: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := onnxgraph.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	for _, p := range decoded.GetMetadataProps() {
		meta[p.GetKey()] = p.GetValue()
	}

	var impute []float64
	if err := json.Unmarshal([]byte(meta[models.MetaImputeValues]), &impute); err != nil {
		t.Fatalf("impute values %q: %v", meta[models.MetaImputeValues], err)
	}
	if !slices.Equal(impute, m.Imputer.Means) {
		t.Errorf("impute values %v, want the training means %v", impute, m.Imputer.Means)
	}
	want := map[string]string{
		models.MetaFamily: models.Anomaly, models.MetaTrainedOn: "simulated",
		models.MetaGenerator: "gen/1", models.MetaSeed: "5", models.MetaCodeVersion: "v9",
		models.MetaData: "abc",
	}
	for k, v := range want {
		if meta[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, meta[k], v)
		}
	}
	if meta[models.MetaAlarmThreshold] == "" {
		t.Error("no alarm threshold in the metadata")
	}
	if got := decoded.GetOpsetImport()[0].GetVersion(); got != 13 {
		t.Errorf("opset %d, want 13", got)
	}
}
