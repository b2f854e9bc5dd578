package ort

import (
	"context"
	"fmt"
	"reflect"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// Run runs the model on inputs, given in the order of Inputs, and returns the outputs
// in the order of Outputs. The input data is read in place, not copied; the outputs
// are fresh slices the caller owns. When ctx is cancelled during the run, the runtime
// stops at its next operator and Run returns ctx.Err(). Inputs that do not match the
// model give an error wrapping ErrBadInput.
func (s *Session) Run(ctx context.Context, inputs []Tensor) ([]Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.checkInputs(inputs); err != nil {
		return nil, err
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}

	in := make([]onnxruntime.Value, len(inputs))
	defer destroyAll(in)
	for i, t := range inputs {
		v, err := t.value()
		if err != nil {
			return nil, fmt.Errorf("wrap input %q: %w", s.inputs[i].Name, err)
		}
		in[i] = v
	}

	// Outputs left nil are allocated by the runtime and copied to Go memory.
	out := make([]onnxruntime.Value, len(s.outputs))
	defer destroyAll(out)
	if err := s.run(ctx, in, out); err != nil {
		return nil, err
	}

	result := make([]Tensor, len(out))
	for i, v := range out {
		t, err := tensorFrom(v)
		if err != nil {
			return nil, fmt.Errorf("read output %q: %w", s.outputs[i].Name, err)
		}
		result[i] = t
	}
	return result, nil
}

// run runs the session, stopping it through run options when ctx is cancelled. A
// context that can never be cancelled costs nothing extra.
func (s *Session) run(ctx context.Context, in, out []onnxruntime.Value) error {
	if ctx.Done() == nil {
		if err := s.sess.Run(in, out); err != nil {
			return fmt.Errorf("run onnx model: %w", err)
		}
		return nil
	}

	ro, err := onnxruntime.NewRunOptions()
	if err != nil {
		return fmt.Errorf("create onnx run options: %w", err)
	}
	defer ro.Destroy()
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		ro.Terminate()
		close(terminated)
	})

	err = s.sess.RunWithOptions(in, out, ro)
	if !stop() {
		// The cancellation has fired; wait for it to finish with the run options
		// before they are freed.
		<-terminated
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("run onnx model: %w", err)
	}
	return nil
}

func destroyAll(values []onnxruntime.Value) {
	for _, v := range values {
		// The wrapper can hand back a typed nil (a nil *CustomDataTensor for an element
		// type it cannot read), which a plain nil check lets through.
		if v != nil && !isNilPointer(v) {
			v.Destroy()
		}
	}
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// checkInputs compares tensors with the model's inputs before they reach the runtime,
// whose own errors are harder to tell from internal failures.
func (s *Session) checkInputs(inputs []Tensor) error {
	if len(inputs) != len(s.inputs) {
		return fmt.Errorf("%w: %d tensors for %d inputs", ErrBadInput, len(inputs),
			len(s.inputs))
	}
	for i, t := range inputs {
		if err := checkTensor(s.inputs[i], t); err != nil {
			return fmt.Errorf("input %q: %w", s.inputs[i].Name, err)
		}
	}
	return nil
}

func checkTensor(want TensorInfo, t Tensor) error {
	if t.Type() == Undefined {
		return fmt.Errorf("%w: data of type %T", ErrUnsupported, t.Data)
	}
	if !runnable(want.Type) {
		return fmt.Errorf("%w: the model takes %s", ErrUnsupported, want.Type)
	}
	if t.Type() != want.Type {
		return fmt.Errorf("%w: %s data, the model takes %s", ErrBadInput, t.Type(),
			want.Type)
	}
	if len(t.Shape) != len(want.Shape) {
		return fmt.Errorf("%w: shape %v, the model takes %v", ErrBadInput, t.Shape,
			want.Shape)
	}

	n := 1
	for i, d := range t.Shape {
		if d < 1 || (want.Shape[i] >= 0 && d != want.Shape[i]) {
			return fmt.Errorf("%w: shape %v, the model takes %v", ErrBadInput, t.Shape,
				want.Shape)
		}
		// Compare before multiplying, so that huge dimensions cannot overflow the count.
		if d > int64(t.len()/n) {
			return fmt.Errorf("%w: %d values for shape %v", ErrBadInput, t.len(), t.Shape)
		}
		n *= int(d)
	}
	if t.len() != n {
		return fmt.Errorf("%w: %d values for shape %v", ErrBadInput, t.len(), t.Shape)
	}
	return nil
}

// runnable reports whether Run can pass tensors of element type t.
func runnable(t ElementType) bool {
	switch t {
	case Float32, Float64, Int32, Int64, Bool:
		return true
	}
	return false
}
