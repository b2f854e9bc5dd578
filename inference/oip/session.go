package oip

import (
	"context"
	"slices"

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

// Inputs describes the session's inputs.
func (m *SessionModel) Inputs() []ort.TensorInfo { return slices.Clone(m.inputs) }

// Outputs describes the session's outputs.
func (m *SessionModel) Outputs() []ort.TensorInfo { return slices.Clone(m.outputs) }

// AllowNonFinite reports the policy given to NewSessionModel.
func (m *SessionModel) AllowNonFinite() bool { return m.allowNonFinite }

// Run runs the session.
func (m *SessionModel) Run(ctx context.Context, in []ort.Tensor) ([]ort.Tensor, error) {
	return m.session.Run(ctx, in)
}
