package inference

import (
	"context"
	"fmt"

	"github.com/hydrocast/hydrocast/inference/oip"
	"github.com/hydrocast/hydrocast/models/ort"
)

// Model returns the served version of the named model for the Open Inference
// Protocol; version "" means the served one. Server implements oip.Repository.
func (s *Server) Model(name, version string) (oip.Model, error) {
	c := s.current.Load()
	if c == nil {
		return nil, fmt.Errorf("%w: no models loaded yet", oip.ErrModelNotReady)
	}
	m := c.set.byName(name)
	if m == nil {
		return nil, fmt.Errorf("%w: %q", oip.ErrModelNotFound, name)
	}
	if version != "" && version != m.VersionString() {
		return nil, fmt.Errorf("%w: %s version %s is not served (serving %s)",
			oip.ErrModelNotFound, name, version, m.VersionString())
	}
	return &servedModel{srv: s, name: name, info: m}, nil
}

var _ oip.Repository = (*Server)(nil)

func (set *ModelSet) byName(name string) *LoadedModel {
	for _, m := range []*LoadedModel{set.Sweat, set.Thermal, set.Anomaly} {
		if m != nil && m.Family.Name == name {
			return m
		}
	}
	return nil
}

// servedModel runs a model through the served set, holding a reference to the set for
// the duration of each run so that a hot swap never closes a session under a request.
type servedModel struct {
	srv  *Server
	name string
	info *LoadedModel // the version seen at lookup, for metadata
}

func (m *servedModel) Name() string              { return m.name }
func (m *servedModel) Version() string           { return m.info.VersionString() }
func (m *servedModel) Versions() []string        { return []string{m.info.VersionString()} }
func (m *servedModel) Inputs() []ort.TensorInfo  { return m.info.session.Inputs() }
func (m *servedModel) Outputs() []ort.TensorInfo { return m.info.session.Outputs() }
func (m *servedModel) AllowNonFinite() bool      { return false }

// Run runs the version that was looked up when it is still served, and otherwise the
// one that replaced it, whose signature the swap checked against the family's.
func (m *servedModel) Run(ctx context.Context, in []ort.Tensor) ([]ort.Tensor, error) {
	c, err := m.srv.acquire()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", oip.ErrModelNotReady, err)
	}
	defer c.refs.Done()
	lm := c.set.byName(m.name)
	if lm == nil {
		return nil, fmt.Errorf("%w: %q", oip.ErrModelNotFound, m.name)
	}
	return oip.RunSession(ctx, lm.session, in, lm.session.Outputs())
}
