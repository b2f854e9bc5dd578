package oip_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/inference/oip"
)

// python is the interpreter whose Debian packages provide torch and onnx
// (python3-torch, python3-onnx).
const python = "/usr/bin/python3"

// exportScript builds a small network in PyTorch, exports it to ONNX with an open
// batch dimension and writes reference outputs for fixed inputs. Its one argument is
// the folder to write model.onnx and reference.json to.
const exportScript = `
import json, sys
import onnx, torch

out = sys.argv[1]
torch.manual_seed(20240611)
net = torch.nn.Sequential(
    torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).eval()
x = torch.randn(6, 4) * 3
with torch.no_grad():
    y = net(x)

torch.onnx.export(net, x, out + "/model.onnx", input_names=["x"], output_names=["y"],
                  dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
onnx.checker.check_model(onnx.load(out + "/model.onnx"))

with open(out + "/reference.json", "w") as f:
    json.dump({"x": x.flatten().tolist(), "y": y.flatten().tolist()}, f)
`

// requireTorch skips the test when python lacks torch, unless it runs under CI,
// where the packages must be installed and their absence is a failure.
func requireTorch(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import torch, onnx").CombinedOutput()
	if err == nil {
		return
	}
	msg := "the PyTorch interoperability test needs " + python + " with torch and onnx " +
		"(apt-get install python3-torch python3-onnx): %v\n%s"
	if os.Getenv("CI") == "" {
		t.Skipf(msg, err, out)
	}
	t.Fatalf(msg, err, out)
}

// TestPyTorchModel serves a model exported by torch.onnx.export and expects PyTorch's
// own outputs back, over gRPC with typed and raw contents, for the whole batch and
// for single rows.
func TestPyTorchModel(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "export.py")
	if err := os.WriteFile(script, []byte(exportScript), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(python, script, dir).CombinedOutput(); err != nil {
		t.Fatalf("export the PyTorch model: %v\n%s", err, out)
	}

	var ref struct{ X, Y []float32 }
	data, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err == nil {
		err = json.Unmarshal(data, &ref)
	}
	if err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}

	repo := &testRepo{ready: true, models: map[string]oip.Model{
		"torch": oip.NewSessionModel("torch", "1", newSession(t, model), false),
	}}
	client := dial(t, oip.New(repo, oip.Options{}))
	meta, err := client.ModelMetadata(context.Background(),
		&inferencepb.ModelMetadataRequest{Name: "torch"})
	if err != nil {
		t.Fatal(err)
	}
	if got := meta.Inputs[0].Shape; len(got) != 2 || got[0] != -1 || got[1] != 4 {
		t.Errorf("input shape %v, want [-1 4]", got)
	}

	rows := len(ref.X) / 4
	check := func(t *testing.T, first, n int, raw bool) {
		req := &inferencepb.ModelInferRequest{ModelName: "torch",
			Inputs: []*inTensor{
				input("x", []int64{int64(n), 4}, ref.X[first*4:(first+n)*4])}}
		if raw {
			req = toRaw(req)
		}
		resp, err := client.ModelInfer(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		got := outputData(t, resp, 0).([]float32)
		want := ref.Y[first*3 : (first+n)*3]
		if len(got) != len(want) {
			t.Fatalf("got %d values, want %d", len(got), len(want))
		}
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Errorf("y[%d] = %v, PyTorch gave %v", first*3+i, got[i], want[i])
			}
		}
	}
	for _, raw := range []bool{false, true} {
		name := map[bool]string{false: "typed", true: "raw"}[raw]
		t.Run(name+"/batch", func(t *testing.T) { check(t, 0, rows, raw) })
		t.Run(name+"/rows", func(t *testing.T) {
			for r := range rows {
				check(t, r, 1, raw)
			}
		})
	}
}
