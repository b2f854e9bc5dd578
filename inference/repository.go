package inference

import (
	"context"
	"fmt"

	"github.com/hydrocast/hydrocast/inference/oip"
	"github.com/hydrocast/hydrocast/models/ort"
)

// Model returns the served version of the named model for the Open Inference
// Protocol; version "" means the served one. Server implements oip.Repository. The
// model returned was made when its set started serving, so a lookup allocates
// nothing.
func (s *Server) Model(name, version string) (oip.Model, error) {
	c := s.current.Load()
	if c == nil {
		return nil, fmt.Errorf("%w: no models loaded yet", oip.ErrModelNotReady)
	}
	m := c.model(s, name)
	if m == nil {
		return nil, fmt.Errorf("%w: %q", oip.ErrModelNotFound, name)
	}
	if version != "" && version != m.version {
		return nil, fmt.Errorf("%w: %s version %s is not served (serving %s)",
			oip.ErrModelNotFound, name, version, m.version)
	}
	return m, nil
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
// Each served set makes one per model it serves (see newServedSet); its descriptions
// are copied from the session once, not per request.
type servedModel struct {
	srv     *Server
	name    string
	version string
	info    *LoadedModel // the version seen at lookup, for metadata
	inputs  []ort.TensorInfo
	outputs []ort.TensorInfo
}

func newServedModel(srv *Server, m *LoadedModel) *servedModel {
	return &servedModel{srv: srv, name: m.Family.Name, version: m.VersionString(),
		info: m, inputs: m.session.Inputs(), outputs: m.session.Outputs()}
}

// model returns the servedModel of the named model in c, nil when c serves none.
// A set built without newServedSet (in tests) gets one made on the spot.
func (c *servedSet) model(srv *Server, name string) *servedModel {
	for _, m := range c.served {
		if m.name == name {
			return m
		}
	}
	if c.served == nil && c.set != nil {
		if lm := c.set.byName(name); lm != nil {
			return newServedModel(srv, lm)
		}
	}
	return nil
}

func (m *servedModel) Name() string              { return m.name }
func (m *servedModel) Version() string           { return m.version }
func (m *servedModel) Versions() []string        { return []string{m.version} }
func (m *servedModel) Inputs() []ort.TensorInfo  { return m.inputs }
func (m *servedModel) Outputs() []ort.TensorInfo { return m.outputs }
func (m *servedModel) AllowNonFinite() bool      { return false }

// Run runs the version that was looked up when it is still served, and otherwise the
// one that replaced it, whose signature the swap checked against the family's.
func (m *servedModel) Run(ctx context.Context, in []ort.Tensor) ([]ort.Tensor, error) {
	c, err := m.srv.acquire()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", oip.ErrModelNotReady, err)
	}
	defer c.refs.Done()
	now := c.model(m.srv, m.name)
	if now == nil {
		return nil, fmt.Errorf("%w: %q", oip.ErrModelNotFound, m.name)
	}
	return oip.RunSession(ctx, now.info.session, in, now.outputs)
}
