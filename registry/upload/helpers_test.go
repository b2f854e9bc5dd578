package upload

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/advancedclimatesystems/gonnx/onnx"

	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/registry"
)

// TestMain turns the test binary into a trial child when a test re-executes it
// with one of the child commands below, the way the hydrocast binary does with
// its hidden "models trial-run" command.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "trial-run":
			os.Exit(ChildMain(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
		case "hang-while-loading":
			fmt.Println(`{"stage":"load"}`)
			time.Sleep(time.Minute)
			os.Exit(0)
		case "die-while-running":
			fmt.Println(`{"stage":"load"}`)
			fmt.Println(`{"stage":"run"}`)
			fmt.Fprintln(os.Stderr, "segmentation fault (simulated)")
			os.Exit(139)
		case "say-nothing":
			os.Exit(3)
		}
	}
	os.Exit(m.Run())
}

// child returns trial options that re-execute the test binary as command.
func child(t testing.TB, command string) TrialOptions {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return TrialOptions{Command: []string{exe, command}, Timeout: 30 * time.Second}
}

// options returns validation options whose trials run in the test binary.
func options(t testing.TB) Options {
	return Options{Trial: child(t, "trial-run")}
}

var features = []string{"heart_rate_bpm_mean_15m", "skin_temp_c_mean_15m", "humidity_pct"}

// linearModel returns a small sweat-rate model: three features in, one rate out.
func linearModel(t testing.TB) *onnx.ModelProto {
	t.Helper()
	b, err := onnxgraph.StandardizedLinear(onnxgraph.LinearSpec{
		Name: "sweat-rate", Mean: []float32{140, 34, 50}, Scale: []float32{20, 1, 15},
		Weights: []float32{0.3, 0.1, 0.05}, Bias: []float32{1.1},
		Outputs: []string{"sweat_rate_l_per_h"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func encode(t testing.TB, m *onnx.ModelProto) []byte {
	t.Helper()
	data, err := onnxgraph.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// signature is the signature linearModel satisfies.
func signature() registry.Signature {
	return registry.Signature{
		Inputs: []registry.Tensor{{Name: onnxgraph.InputName, Datatype: "FP32",
			Shape: []int64{-1, 3}, Features: features}},
		Outputs: []registry.Tensor{{Name: "sweat_rate_l_per_h", Datatype: "FP32",
			Shape: []int64{-1, 1}}},
	}
}

// initializer returns the model's initializer called name.
func initializer(t testing.TB, m *onnx.ModelProto, name string) *onnx.TensorProto {
	t.Helper()
	init := tensorNamed(m, name)
	if init == nil {
		t.Fatalf("no initializer %q", name)
	}
	return init
}

// tensorNamed returns the model's initializer called name, or nil.
func tensorNamed(m *onnx.ModelProto, name string) *onnx.TensorProto {
	for _, init := range m.GetGraph().GetInitializer() {
		if init.GetName() == name {
			return init
		}
	}
	return nil
}

// externalize moves the float data of the named initializer to an external file
// at location and returns that file's content.
func externalize(t testing.TB, m *onnx.ModelProto, name, location string) []byte {
	t.Helper()
	init := initializer(t, m, name)
	var raw []byte
	for _, x := range init.GetFloatData() {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(x))
	}
	init.FloatData = nil
	init.DataLocation = onnx.TensorProto_EXTERNAL
	init.ExternalData = []*onnx.StringStringEntryProto{
		{Key: "location", Value: location},
		{Key: "offset", Value: "0"},
		{Key: "length", Value: fmt.Sprint(len(raw))},
	}
	return raw
}

// entry is one member of a test archive.
type entry struct {
	name     string
	data     []byte
	typeflag byte   // tar type; 0 means a regular file
	link     string // target of a link
}

func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)),
			Typeflag: tar.TypeReg, Linkname: e.link, Format: tar.FormatPAX}
		if e.typeflag != 0 {
			h.Typeflag, h.Size = e.typeflag, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeZip(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.typeflag == tar.TypeSymlink {
			h.SetMode(os.ModeSymlink | 0o777)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		data := e.data
		if e.typeflag == tar.TypeSymlink {
			data = []byte(e.link)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
