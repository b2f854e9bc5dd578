package upload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/advancedclimatesystems/gonnx/onnx"

	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/registry"
)

func TestTrialReport(t *testing.T) {
	res, err := TrialBytes(t.Context(), encode(t, linearModel(t)), child(t, "trial-run"))
	if err != nil {
		t.Fatalf("trial of a valid model: %v", err)
	}
	if res.Stage != StageDone || !strings.HasPrefix(res.Runtime, "1.24") {
		t.Errorf("stage %q on runtime %q, want done on 1.24", res.Stage, res.Runtime)
	}
	if len(res.Inputs) != 1 || !slices.Equal(res.Inputs[0].Shape, []int64{1, 3}) {
		t.Errorf("inputs %+v, want features of shape [1 3]", res.Inputs)
	}
	if len(res.Outputs) != 1 || res.Outputs[0].Name != "sweat_rate_l_per_h" ||
		!slices.Equal(res.Outputs[0].Shape, []int64{1, 1}) {
		t.Errorf("outputs %+v, want sweat_rate_l_per_h of shape [1 1]", res.Outputs)
	}
}

// hostile returns models that would exhaust a server's memory if it loaded them.
func hostile(t *testing.T) map[string][]byte {
	// An initializer declaring 3×2^38 floats (3 TiB) with data for three.
	huge := linearModel(t)
	tensorNamed(huge, "weights").Dims = []int64{3, 1 << 38}

	// A graph that asks for 16 GiB of zeros at run time.
	shape := &onnx.TensorProto{Dims: []int64{2}, DataType: int32(onnx.TensorProto_INT64),
		Int64Data: []int64{1 << 16, 1 << 16}}
	b := onnxgraph.NewBuilder("balloon").Input("x", -1, 1).Output("y", -1, 1).
		Node("Constant", nil, []string{"shape"}, &onnx.AttributeProto{Name: "value",
			Type: onnx.AttributeProto_TENSOR, T: shape}).
		Node("ConstantOfShape", []string{"shape"}, []string{"zeros"}).
		Node("ReduceSum", []string{"zeros"}, []string{"total"}).
		Node("Add", []string{"x", "total"}, []string{"y"})
	balloon, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}

	return map[string][]byte{
		"initializer with a huge shape": encode(t, huge),
		"16 GiB allocation":             encode(t, balloon),
	}
}

// TestTrialHostileModels runs models that would take a server down and checks that
// only the child suffers: the trial reports the model invalid and the next trial,
// in the same parent, passes.
func TestTrialHostileModels(t *testing.T) {
	for name, model := range hostile(t) {
		t.Run(name, func(t *testing.T) {
			opts := child(t, "trial-run")
			opts.MemoryBytes = 3 << 30
			res, err := TrialBytes(t.Context(), model, opts)
			if !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
			if res.Stage == StageDone && res.Error == "" {
				t.Errorf("child reports success for a hostile model")
			}
			t.Logf("reported: %v", err)

			if _, err := TrialBytes(t.Context(), encode(t, linearModel(t)),
				child(t, "trial-run")); err != nil {
				t.Errorf("trial after the hostile one: %v", err)
			}
		})
	}
}

func TestTrialChildFailures(t *testing.T) {
	model := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(model, encode(t, linearModel(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		command string
		timeout time.Duration
		invalid bool   // the model is to blame
		want    string // part of the error
	}{
		{"hang-while-loading", 500 * time.Millisecond, true, "still at stage load"},
		{"die-while-running", 0, true, "exit status 139; stderr: segmentation fault"},
		{"say-nothing", 0, false, "child could not start: exit status 3"},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			opts := child(t, tt.command)
			if tt.timeout > 0 {
				opts.Timeout = tt.timeout
			}
			start := time.Now()
			_, err := TrialRun(t.Context(), model, opts)
			if err == nil || errors.Is(err, registry.ErrInvalid) != tt.invalid ||
				!strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q (ErrInvalid: %v)", err, tt.want,
					tt.invalid)
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("the trial took %v; the child was not stopped", elapsed)
			}
		})
	}
}

func TestTrialRuntimeMissing(t *testing.T) {
	t.Setenv("HYDROCAST_ORT_LIB", filepath.Join(t.TempDir(), "libonnxruntime.so.1"))
	_, err := TrialBytes(t.Context(), encode(t, linearModel(t)), child(t, "trial-run"))
	if err == nil || errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("error %v, want a failure of the trial that does not blame the model", err)
	}
}

func TestTrialCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := TrialBytes(ctx, encode(t, linearModel(t)), child(t, "trial-run"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
