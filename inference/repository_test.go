package inference_test

import (
	"context"
	"math"
	"testing"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/inference/oip"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
)

func TestOpenInferenceProtocolRunsServedVersions(t *testing.T) {
	reg := openRegistry(t)
	ms := testModels()
	publishAll(t, reg, ms)
	srv := inference.NewServer(features.NewStore(nil), loadSet(t, reg), nil)
	defer srv.Close()
	api := oip.New(srv, oip.DefaultOptions())
	ctx := context.Background()

	// Two rows of the sweat model's inputs: y = 0.001·Σx + bias per output.
	k := len(models.Families[0].Features)
	x := make([]float32, 2*k)
	for i := range x {
		x[i] = float32(i % 7)
	}
	req := &inferencepb.ModelInferRequest{ModelName: models.SweatRate,
		Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{
			Name: models.InputName, Datatype: "FP32", Shape: []int64{2, int64(k)},
			Contents: &inferencepb.InferTensorContents{Fp32Contents: x}}}}
	resp, err := api.ModelInfer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ModelVersion != "1" || len(resp.Outputs) != 3 {
		t.Fatalf("response version %q with %d outputs, want version 1 and 3 outputs",
			resp.ModelVersion, len(resp.Outputs))
	}
	for r := range 2 {
		want := ms[models.SweatRate].eval(x[r*k : (r+1)*k])
		got := resp.Outputs[0].Contents.GetFp32Contents()
		if len(got) != 2 || math.Abs(float64(got[r])-want[0]) > 1e-5 {
			t.Errorf("row %d: %s = %v, want %.5f", r, resp.Outputs[0].Name, got, want[0])
		}
		if s := resp.Outputs[0].Shape; len(s) != 2 || s[0] != 2 || s[1] != 1 {
			t.Errorf("output shape %v, want [2 1]", s)
		}
	}

	req.ModelVersion = "7"
	if _, err := api.ModelInfer(ctx, req); err == nil {
		t.Error("a version that is not served answered")
	}
}

// The protocol's view of each served model is made once per set: a lookup returns
// the same model and allocates nothing. After a swap the lookup finds the new set's
// model, and a model found before the swap runs on the set served now.
func TestModelLookupIsMadeOncePerSet(t *testing.T) {
	reg := openRegistry(t)
	ms := testModels()
	publishAll(t, reg, ms)
	srv := inference.NewServer(features.NewStore(nil), loadSet(t, reg), nil)
	defer srv.Close()

	before, err := srv.Model(models.SweatRate, "")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := srv.Model(models.SweatRate, "1"); err != nil || again != before {
		t.Errorf("second lookup gave %v, %v; want the same model", again, err)
	}
	if n := testing.AllocsPerRun(100, func() {
		_, _ = srv.Model(models.SweatRate, "")
	}); n != 0 {
		t.Errorf("a lookup allocates %v times, want 0", n)
	}

	srv.SetModels(loadSet(t, reg))
	after, err := srv.Model(models.SweatRate, "")
	if err != nil || after == before {
		t.Fatalf("lookup after a swap gave %v, %v; want the new set's model", after, err)
	}
	k := len(models.Families[0].Features)
	out, err := before.Run(context.Background(), []ort.Tensor{{Shape: []int64{1, int64(k)},
		Data: make([]float32, k)}})
	if err != nil || len(out) != 3 {
		t.Fatalf("run of a model found before the swap: %d outputs, %v", len(out), err)
	}
}
