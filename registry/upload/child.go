package upload

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hydrocast/hydrocast/models/ort"
)

// ChildMain is the body of a trial child process. args are its arguments after the
// command that chose it: --model PATH and --memory-bytes N. It caps its own
// address space, loads ONNX Runtime, loads the model, runs it once with every
// input filled with zeros (variable dimensions of size 1) and reports each stage
// as a TrialResult line on stdout. It returns the process exit status: 0 when it
// reported a result, whether or not the model passed, and 2 for unusable
// arguments.
func ChildMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("trial-run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "path of the ONNX file to load and run")
	memory := fs.Int64("memory-bytes", 0, "address space limit in bytes; 0 for none")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *model == "" {
		fmt.Fprintln(stderr, "trial-run: --model is required")
		return 2
	}

	enc := json.NewEncoder(stdout)
	report := func(r TrialResult) int {
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "trial-run: write result:", err)
			return 1
		}
		return 0
	}

	data, err := prepareChild(*model, *memory)
	if err != nil {
		return report(TrialResult{Stage: StageInit, Error: err.Error()})
	}
	res := TrialResult{Stage: StageLoad, Runtime: ort.RuntimeVersion()}
	if code := report(res); code != 0 {
		return code
	}
	return report(trial(ctx, data, res, report))
}

// prepareChild sets the memory limit, then reads the model and loads the runtime,
// which must happen under the limit too.
func prepareChild(model string, memoryBytes int64) ([]byte, error) {
	if memoryBytes > 0 {
		if err := limitMemory(memoryBytes); err != nil {
			return nil, fmt.Errorf("limit memory: %w", err)
		}
	}
	data, err := os.ReadFile(model)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	if err := ort.Init(ort.LibraryPath()); err != nil {
		return nil, err
	}
	return data, nil
}

// trial loads and runs the model, reporting the start of the run through report,
// and returns the final result.
func trial(ctx context.Context, data []byte, res TrialResult,
	report func(TrialResult) int) TrialResult {
	start := time.Now()
	sess, err := ort.NewSession(data, ort.Options{})
	res.LoadSeconds = time.Since(start).Seconds()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer sess.Close()

	res.Stage = StageRun
	inputs, err := zeros(sess.Inputs())
	for i, in := range sess.Inputs() {
		res.Inputs = append(res.Inputs, TrialTensor{Name: in.Name, Type: in.Type.String(),
			Shape: in.Shape})
		if err == nil {
			res.Inputs[i].Shape = inputs[i].Shape
		}
	}
	if err != nil {
		res.Error = err.Error()
		return res
	}
	report(res)

	start = time.Now()
	outputs, err := sess.Run(ctx, inputs)
	res.RunSeconds = time.Since(start).Seconds()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	for i, out := range sess.Outputs() {
		res.Outputs = append(res.Outputs, TrialTensor{Name: out.Name,
			Type: out.Type.String(), Shape: outputs[i].Shape})
	}
	res.Stage = StageDone
	return res
}

// maxTrialValues caps the values of one input of the trial run: a model whose fixed
// input shape asks for more is not one hydrocast's servers would feed.
const maxTrialValues = 1 << 26

// errUnfeedable marks an input type that the runtime wrapper, and so hydrocast's
// servers, cannot pass to a model.
var errUnfeedable = errors.New("input type servers cannot feed")

// zeros returns a tensor of zeros for each input, with every variable dimension
// set to 1.
func zeros(infos []ort.TensorInfo) ([]ort.Tensor, error) {
	out := make([]ort.Tensor, len(infos))
	for i, in := range infos {
		shape := make([]int64, len(in.Shape))
		n := int64(1)
		for d, size := range in.Shape {
			shape[d] = max(size, 1)
			if shape[d] > maxTrialValues/n {
				return nil, fmt.Errorf("input %q: fixed shape %v holds more than %d "+
					"values", in.Name, in.Shape, maxTrialValues)
			}
			n *= shape[d]
		}

		var data any
		switch in.Type {
		case ort.Float32:
			data = make([]float32, n)
		case ort.Float64:
			data = make([]float64, n)
		case ort.Int32:
			data = make([]int32, n)
		case ort.Int64:
			data = make([]int64, n)
		case ort.Bool:
			data = make([]bool, n)
		default:
			return nil, fmt.Errorf("input %q of type %s: %w", in.Name, in.Type,
				errUnfeedable)
		}
		out[i] = ort.Tensor{Shape: shape, Data: data}
	}
	return out, nil
}
