package oip

import (
	"context"

	"github.com/hydrocast/hydrocast/models/ort"
)

// SessionModel serves one ONNX Runtime session as a Model, for tools and tests that
// have a bare session rather than a registry's model set. It only borrows the
// session: closing it stays the caller's job.
type SessionModel struct {
	name, version  string
	allowNonFinite bool
	session        *ort.Session
	inputs         []ort.TensorInfo
	outputs        []ort.TensorInfo
}

// NewSessionModel returns s served under name and version. allowNonFinite lets NaN
// and infinite values through to the model's float inputs.
func NewSessionModel(name, version string, s *ort.Session,
	allowNonFinite bool) *SessionModel {
	return &SessionModel{
		name:           name,
		version:        version,
		allowNonFinite: allowNonFinite,
		session:        s,
		inputs:         s.Inputs(),
		outputs:        s.Outputs(),
	}
}

// Name returns the name the model is served under.
func (m *SessionModel) Name() string { return m.name }

// Version returns the version the model is served under.
func (m *SessionModel) Version() string { return m.version }

// Versions returns the one version there is.
func (m *SessionModel) Versions() []string { return []string{m.version} }

// Inputs describes the session's inputs; the slice is the model's own, not a copy.
func (m *SessionModel) Inputs() []ort.TensorInfo { return m.inputs }

// Outputs describes the session's outputs; the slice is the model's own, not a copy.
func (m *SessionModel) Outputs() []ort.TensorInfo { return m.outputs }

// AllowNonFinite reports the policy given to NewSessionModel.
func (m *SessionModel) AllowNonFinite() bool { return m.allowNonFinite }

// Run runs the session, as RunSession does.
func (m *SessionModel) Run(ctx context.Context, in []ort.Tensor) ([]ort.Tensor, error) {
	return RunSession(ctx, m.session, in, m.outputs)
}

// RunSession runs s on inputs, outputs being s.Outputs(). A model that takes one
// float32 [N, k] input and gives float32 outputs [N] or [N, m] runs through the
// session's RunFloat32, which reuses the runtime's buffers and is several times
// faster for small models; any other runs through Session.Run. On the fast path the
// outputs' values share one allocation, and so do their shapes.
func RunSession(ctx context.Context, s *ort.Session, in []ort.Tensor,
	outputs []ort.TensorInfo) ([]ort.Tensor, error) {
	x, ok := float32Rows(in, outputs)
	if !ok {
		return s.Run(ctx, in)
	}

	rows := in[0].Shape[0]
	values, dims := 0, 0
	for _, o := range outputs {
		values += int(rows) * rowValues(o)
		dims += len(o.Shape)
	}
	// RunFloat32 appends each output's values to its destination, which therefore
	// holds exactly its part of one buffer.
	buf := make([]float32, values)
	var few [4][]float32 // on the stack for models with few outputs
	var data [][]float32
	if len(outputs) <= len(few) {
		data = few[:len(outputs)]
	} else {
		data = make([][]float32, len(outputs))
	}
	off := 0
	for i, o := range outputs {
		n := int(rows) * rowValues(o)
		data[i] = buf[off : off : off+n]
		off += n
	}
	if err := s.RunFloat32(ctx, x, data); err != nil {
		return nil, err
	}
	shapes := make([]int64, 0, dims)
	res := make([]ort.Tensor, len(data))
	for i, d := range data {
		start := len(shapes)
		shapes = append(shapes, rows)
		if len(outputs[i].Shape) == 2 {
			shapes = append(shapes, outputs[i].Shape[1])
		}
		res[i] = ort.Tensor{Shape: shapes[start:len(shapes):len(shapes)], Data: d}
	}
	return res, nil
}

// rowValues returns how many values one row of a float32 output [N] or [N, m]
// holds.
func rowValues(o ort.TensorInfo) int {
	if len(o.Shape) == 2 {
		return int(o.Shape[1])
	}
	return 1
}

// float32Rows returns the data of a lone float32 [N, k] input when every output is
// float32 [N] or [N, m] with m fixed.
func float32Rows(in []ort.Tensor, outputs []ort.TensorInfo) ([]float32, bool) {
	if len(in) != 1 || len(in[0].Shape) != 2 {
		return nil, false
	}
	x, ok := in[0].Data.([]float32)
	if !ok {
		return nil, false
	}
	for _, o := range outputs {
		switch {
		case o.Type != ort.Float32 || len(o.Shape) == 0 || o.Shape[0] >= 0:
			return nil, false
		case len(o.Shape) == 2 && o.Shape[1] < 1, len(o.Shape) > 2:
			return nil, false
		}
	}
	return x, true
}
