package oip

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hydrocast/hydrocast/inference/batch"
	"github.com/hydrocast/hydrocast/models/ort"
)

// request is an inference request as either transport decodes it.
type request struct {
	model, version, id string
	inputs             []input
	outputs            []string // names asked for, in the order wanted; empty means all
}

// input is one input tensor of a request, its data still in transport form.
type input struct {
	name, datatype string
	shape          []int64
	data           payload
}

// payload is one input's data in the form its transport carries it.
type payload interface {
	// decode returns the n elements of type t in the slice type ort.Tensor holds.
	// The core has checked that t is one the server passes and that n is the
	// element count of the input's shape.
	decode(t ort.ElementType, n int) (any, error)
}

// response is the core's answer, for either transport to encode.
type response struct {
	model, version, id string
	outputs            []output
	few                [3]output // outputs' backing when there are few
}

type output struct {
	name   string
	tensor ort.Tensor
}

// invalid returns an error wrapping ErrInvalidRequest whose text, shown to the
// caller, says what is wrong.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
}

// infer is the one path every inference request takes: find the model, check and
// decode the inputs, run, pick the outputs asked for. It notes in rec what telemetry
// records.
func (s *Server) infer(ctx context.Context, req *request, rec *record) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := s.model(req.model, req.version)
	if err != nil {
		return nil, err
	}
	rec.model, rec.version = m.Name(), m.Version()
	s.arrive(rec)

	outs := m.Outputs()
	picked, err := pickOutputs(m.Name(), outs, req.outputs)
	if err != nil {
		return nil, err
	}
	tensors, err := s.inputTensors(m, req.inputs)
	if err != nil {
		return nil, err
	}
	if err := checkOutputTypes(m, outs); err != nil {
		return nil, err
	}

	// A caller that has given up while the request was decoded must not cost a run.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results, err := s.run(ctx, m, tensors, rec)
	if err != nil {
		return nil, s.runError(ctx, m, err)
	}
	if len(results) != len(outs) {
		return nil, s.internal(m, fmt.Errorf("model gave %d outputs, declares %d",
			len(results), len(outs)))
	}

	resp := &response{model: m.Name(), version: m.Version(), id: req.id}
	if n := picked.count(len(outs)); n <= len(resp.few) {
		resp.outputs = resp.few[:0:n]
	} else {
		resp.outputs = make([]output, 0, n)
	}
	for k := range picked.count(len(outs)) {
		i := picked.at(k)
		resp.outputs = append(resp.outputs, output{name: outs[i].Name, tensor: results[i]})
	}
	return resp, nil
}

// model finds a model, replacing the repository's error text, which may say more
// than a caller should learn, with the core's own.
func (s *Server) model(name, version string) (Model, error) {
	if name == "" {
		return nil, invalid("no model name")
	}
	m, err := s.repo.Model(name, version)
	switch {
	case errors.Is(err, ErrModelNotFound):
		return nil, fmt.Errorf("%w: %s", ErrModelNotFound, modelLabel(name, version))
	case errors.Is(err, ErrModelNotReady):
		return nil, fmt.Errorf("%w: %s", ErrModelNotReady, modelLabel(name, version))
	case err != nil:
		s.opts.Logger.Error("model lookup failed", "model", name, "version", version,
			"err", err)
		return nil, fmt.Errorf("find %s: %w", modelLabel(name, version), err)
	}
	return m, nil
}

func modelLabel(name, version string) string {
	if version == "" {
		return fmt.Sprintf("model %q", name)
	}
	return fmt.Sprintf("model %q version %q", name, version)
}

// runError classifies a failed run. Errors the core cannot explain are logged and
// reach the caller as internal errors without their text.
func (s *Server) runError(ctx context.Context, m Model, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ort.ErrBadInput):
		// The core's checks should have caught this; the runtime's text names
		// only shapes and types, which the caller sent.
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	case errors.Is(err, batch.ErrQueueFull):
		return fmt.Errorf("%s: %w", modelLabel(m.Name(), m.Version()), err)
	case errors.Is(err, ort.ErrClosed):
		// The version was unloaded mid-request, as a hot swap does; a retry finds
		// its successor.
		return fmt.Errorf("%w: %s was unloaded", ErrModelNotReady,
			modelLabel(m.Name(), m.Version()))
	}
	return s.internal(m, err)
}

func (s *Server) internal(m Model, err error) error {
	s.opts.Logger.Error("model run failed", "model", m.Name(), "version", m.Version(),
		"err", err)
	return fmt.Errorf("run %s: %w", modelLabel(m.Name(), m.Version()), err)
}

// picks are the positions of the outputs asked for; nil means every output, in
// order, which is what most requests ask for and needs no slice.
type picks []int

func (p picks) count(outputs int) int {
	if p == nil {
		return outputs
	}
	return len(p)
}

func (p picks) at(k int) int {
	if p == nil {
		return k
	}
	return p[k]
}

// pickOutputs returns the positions in outs of the outputs asked for, nil for all of
// them when none are named.
func pickOutputs(model string, outs []ort.TensorInfo, names []string) (picks, error) {
	if len(names) == 0 {
		return nil, nil
	}

	picked := make(picks, 0, len(names))
	for k, name := range names {
		i := slices.IndexFunc(outs, func(t ort.TensorInfo) bool { return t.Name == name })
		if i < 0 {
			return nil, invalid("output %q is not an output of model %q, which gives %s",
				name, model, tensorNames(outs))
		}
		if slices.Contains(names[:k], name) {
			return nil, invalid("output %q is asked for more than once", name)
		}
		picked = append(picked, i)
	}
	return picked, nil
}

// checkOutputTypes refuses to run a model with an output the server could not return,
// whether asked for or not: the runtime computes every output, and the wrapper fails
// on types it cannot read only after the run.
func checkOutputTypes(m Model, outs []ort.TensorInfo) error {
	for _, o := range outs {
		if _, ok := elementSize[o.Type]; !ok {
			return fmt.Errorf("%w: %s gives output %q of type %s, which this server "+
				"cannot return", ErrUnsupported, modelLabel(m.Name(), m.Version()), o.Name,
				Datatype(o.Type))
		}
	}
	return nil
}

// inputTensors checks the request's inputs against the model's and returns them
// decoded, in the model's order. Names are checked first, so that a misnamed input
// is reported as such rather than by a data error further on.
func (s *Server) inputTensors(m Model, inputs []input) ([]ort.Tensor, error) {
	want := m.Inputs()
	at := make([]int, len(want)) // position in inputs of each model input, plus one
	for k, in := range inputs {
		i := slices.IndexFunc(want, func(t ort.TensorInfo) bool { return t.Name == in.name })
		if i < 0 {
			return nil, invalid("input %q is not an input of model %q, which takes %s",
				in.name, m.Name(), tensorNames(want))
		}
		if at[i] != 0 {
			return nil, invalid("input %q is given more than once", in.name)
		}
		at[i] = k + 1
	}
	for i, k := range at {
		if k == 0 {
			return nil, invalid("input %q is missing; model %q takes %s", want[i].Name,
				m.Name(), tensorNames(want))
		}
	}

	tensors := make([]ort.Tensor, len(want))
	for i, k := range at {
		t, err := s.tensor(want[i], inputs[k-1], m.AllowNonFinite())
		if err != nil {
			return nil, err
		}
		tensors[i] = t
	}
	return tensors, nil
}

func tensorNames(infos []ort.TensorInfo) string {
	names := make([]string, len(infos))
	for i, t := range infos {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// tensor checks one input against the model's description of it and decodes it.
func (s *Server) tensor(want ort.TensorInfo, in input, allowNonFinite bool) (ort.Tensor,
	error) {
	if dt := Datatype(want.Type); in.datatype != dt {
		return ort.Tensor{}, invalid("input %q: datatype %q, the model takes %s", in.name,
			in.datatype, dt)
	}
	if _, ok := elementSize[want.Type]; !ok {
		return ort.Tensor{}, fmt.Errorf("%w: input %q: this server cannot pass %s to a model",
			ErrUnsupported, in.name, in.datatype)
	}
	n, err := s.elementCount(want, in.shape)
	if err != nil {
		return ort.Tensor{}, invalid("input %q: %v", in.name, err)
	}

	data, err := in.data.decode(want.Type, n)
	if err != nil {
		return ort.Tensor{}, invalid("input %q: %v", in.name, err)
	}
	if !allowNonFinite {
		if i, v, bad := firstNonFinite(data); bad {
			return ort.Tensor{}, invalid("input %q: element %d is %v; the model takes "+
				"only finite values", in.name, i, v)
		}
	}
	return ort.Tensor{Shape: in.shape, Data: data}, nil
}

// elementCount checks a request's shape against the model's and returns how many
// elements it holds.
func (s *Server) elementCount(want ort.TensorInfo, shape []int64) (int, error) {
	if len(shape) != len(want.Shape) {
		return 0, fmt.Errorf("shape %v has rank %d, the model takes rank %d (%v)", shape,
			len(shape), len(want.Shape), want.Shape)
	}

	// Every element must be addressable in bytes too, hence the limit below
	// MaxInt64 by the largest element size.
	const limit = math.MaxInt64 / 8
	n := int64(1)
	for i, d := range shape {
		switch {
		case d < 1:
			return 0, fmt.Errorf("shape %v: dimension %d is %d, must be at least 1",
				shape, i, d)
		case want.Shape[i] >= 0 && d != want.Shape[i]:
			return 0, fmt.Errorf("shape %v: dimension %d is %d, the model takes %d",
				shape, i, d, want.Shape[i])
		case i == 0 && want.Shape[i] < 0 && d > int64(s.opts.MaxBatch):
			return 0, fmt.Errorf("batch of %d exceeds the limit of %d", d,
				s.opts.MaxBatch)
		case n > limit/d:
			return 0, fmt.Errorf("shape %v holds too many elements", shape)
		}
		n *= d
	}
	if n > math.MaxInt {
		return 0, fmt.Errorf("shape %v holds too many elements", shape)
	}
	return int(n), nil
}

// firstNonFinite finds the first NaN or infinite element of float data.
func firstNonFinite(data any) (int, float64, bool) {
	switch d := data.(type) {
	case []float32:
		for i, v := range d {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return i, f, true
			}
		}
	case []float64:
		for i, v := range d {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return i, v, true
			}
		}
	}
	return 0, 0, false
}
