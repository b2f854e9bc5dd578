package inference

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/registry"
)

// Plan says which versions a model set serves: per family, in the order of
// models.Families, the registry's traffic policy or, for a family without one, the
// version its alias points at as a single arm.
type Plan []FamilyPlan

// FamilyPlan is one family's share of a Plan.
type FamilyPlan struct {
	// Policy holds the arms and shadow. For a family served by its alias it has one
	// arm of weight 1 and no salt.
	Policy registry.TrafficPolicy

	// Experiment is set when Policy is the registry's traffic policy, whose
	// assignments are logged for A/B analysis.
	Experiment bool

	// Versions holds the registry's record of every version Policy names.
	Versions map[int]registry.Version
}

// Key returns a string that differs between plans that serve differently, so that a
// watcher reloads only when it changes. Who changed a policy, and why, is not in it.
func (p Plan) Key() string {
	var b strings.Builder
	for _, f := range p {
		fmt.Fprintf(&b, "%s:%s|%d|%s|%t;", f.Policy.Model, f.Policy.Split(),
			f.Policy.Shadow, f.Policy.Salt, f.Experiment)
	}
	return b.String()
}

// PlanModels reads from the registry what a server should serve: each family's
// traffic policy, or the version alias points at when it has none.
func PlanModels(ctx context.Context, reg *registry.Registry, alias string) (Plan, error) {
	plan := make(Plan, 0, len(models.Families))
	for _, fam := range models.Families {
		fp, err := planFamily(ctx, reg, fam.Name, alias)
		if err != nil {
			return nil, err
		}
		plan = append(plan, fp)
	}
	return plan, nil
}

func planFamily(ctx context.Context, reg *registry.Registry, name,
	alias string) (FamilyPlan, error) {
	policy, err := reg.Traffic(ctx, name)
	if err == nil {
		fp := FamilyPlan{Policy: policy, Experiment: true,
			Versions: make(map[int]registry.Version)}
		for _, n := range policy.Versions() {
			v, err := reg.Version(ctx, name, n)
			if err != nil {
				return FamilyPlan{}, fmt.Errorf("traffic policy of %s: %w", name, err)
			}
			fp.Versions[n] = v
		}
		return fp, nil
	}
	if !errors.Is(err, registry.ErrNotFound) {
		return FamilyPlan{}, fmt.Errorf("traffic policy of %s: %w", name, err)
	}

	v, err := reg.Resolve(ctx, name, alias)
	if errors.Is(err, registry.ErrNotFound) {
		return FamilyPlan{}, fmt.Errorf("%w: %s has no version aliased %q and no traffic "+
			"policy (run hydrocast train)", ErrNoProductionModel, name, alias)
	}
	if err != nil {
		return FamilyPlan{}, fmt.Errorf("resolve %s@%s: %w", name, alias, err)
	}
	return FamilyPlan{
		Policy: registry.TrafficPolicy{Model: name,
			Arms: []registry.TrafficArm{{Version: v.Number, Weight: 1}}},
		Versions: map[int]registry.Version{v.Number: v},
	}, nil
}

// LoadError is the failure to load one version of a plan.
type LoadError struct {
	Version registry.Version
	Err     error
}

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// LoadPlan loads every version the plan names, one ONNX Runtime session each, and
// returns the set that serves them. A version that fails to load fails the whole
// set with a *LoadError naming it; nothing stays loaded then.
func LoadPlan(ctx context.Context, reg *registry.Registry, plan Plan,
	opts ort.Options) (*ModelSet, error) {
	if len(plan) != len(models.Families) {
		return nil, fmt.Errorf("plan has %d families, want %d", len(plan),
			len(models.Families))
	}
	set := &ModelSet{plan: plan, routes: make([]route, len(plan))}
	for i, fam := range models.Families {
		fp := plan[i]
		if fp.Policy.Model != fam.Name {
			set.Close()
			return nil, fmt.Errorf("plan names %s where %s belongs", fp.Policy.Model,
				fam.Name)
		}
		r := &set.routes[i]
		r.policy, r.experiment = fp.Policy, fp.Experiment
		for _, n := range fp.Policy.Versions() {
			m, err := LoadModel(ctx, reg, fam, fp.Versions[n], opts)
			if err != nil {
				set.Close()
				return nil, &LoadError{Version: fp.Versions[n], Err: err}
			}
			if n == fp.Policy.Shadow {
				r.shadow = m
			} else {
				r.arms = append(r.arms, m)
			}
		}
	}
	set.Sweat, set.Thermal, set.Anomaly = set.routes[0].main(), set.routes[1].main(),
		set.routes[2].main()
	return set, nil
}

// route is one family's loaded arms and shadow.
type route struct {
	policy     registry.TrafficPolicy
	experiment bool
	arms       []*LoadedModel // in the order of policy.Arms
	shadow     *LoadedModel   // nil without one
}

// main returns the arm with the largest weight, the lowest version among equals:
// the one that answers requests that name no athlete.
func (r *route) main() *LoadedModel {
	best := 0
	for i, a := range r.policy.Arms {
		if a.Weight > r.policy.Arms[best].Weight {
			best = i
		}
	}
	if best >= len(r.arms) {
		return nil
	}
	return r.arms[best]
}

// Assignment is the arm of one model that an athlete's request went to.
type Assignment struct {
	Model   string
	Version int
	// Arm is the index of the arm in the policy, sorted by version.
	Arm int
	// Experiment is the policy's salt; empty when the alias serves the model.
	Experiment string
}

// Routing is the versions chosen for one athlete's request: the model of each
// family, in the order of models.Families, and the assignments made by policies.
type Routing struct {
	Models      [3]*LoadedModel
	Assignments []Assignment
	shadows     [3]*LoadedModel
	salts       [3]string
}

// Route returns the versions that serve athleteID: for each family with a traffic
// policy, the arm the policy assigns the athlete to; for the others, their version.
func (s *ModelSet) Route(athleteID string) Routing {
	var r Routing
	if s.routes == nil { // a set built by hand, without a plan
		r.Models = [3]*LoadedModel{s.Sweat, s.Thermal, s.Anomaly}
		return r
	}
	for i := range s.routes {
		rt := &s.routes[i]
		arm := 0
		if len(rt.arms) > 1 {
			arm = rt.policy.Assign(athleteID)
		}
		r.Models[i] = rt.arms[arm]
		r.shadows[i], r.salts[i] = rt.shadow, rt.policy.Salt
		if rt.experiment {
			r.Assignments = append(r.Assignments, Assignment{Model: rt.policy.Model,
				Version: rt.policy.Arms[arm].Version, Arm: arm,
				Experiment: rt.policy.Salt})
		}
	}
	return r
}

// Versions maps each model name to the version that served, as responses name it.
func (r *Routing) Versions() map[string]string {
	out := make(map[string]string, len(r.Models))
	for _, m := range r.Models {
		out[m.Family.Name] = m.VersionString()
	}
	return out
}

// Plan returns what the set was loaded from; nil for a set built by hand.
func (s *ModelSet) Plan() Plan { return s.plan }

// Lookup returns the loaded version of the named model, serving or shadow, or nil.
// Version "" means the one that answers requests naming no athlete.
func (s *ModelSet) Lookup(name, version string) *LoadedModel {
	if version == "" {
		return s.byName(name)
	}
	for _, m := range s.loaded() {
		if m.Family.Name == name && m.VersionString() == version {
			return m
		}
	}
	return nil
}

// Served lists, per model name, every loaded version, sorted by number.
func (s *ModelSet) Served() map[string][]string {
	out := make(map[string][]string)
	for _, m := range s.loaded() {
		out[m.Family.Name] = append(out[m.Family.Name], m.VersionString())
	}
	for _, vs := range out {
		slices.SortFunc(vs, func(a, b string) int {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return x - y
		})
	}
	return out
}

// loaded returns every model the set holds, each once.
func (s *ModelSet) loaded() []*LoadedModel {
	if s.routes == nil {
		var out []*LoadedModel
		for _, m := range []*LoadedModel{s.Sweat, s.Thermal, s.Anomaly} {
			if m != nil {
				out = append(out, m)
			}
		}
		return out
	}
	var out []*LoadedModel
	for i := range s.routes {
		out = append(out, s.routes[i].arms...)
		if s.routes[i].shadow != nil {
			out = append(out, s.routes[i].shadow)
		}
	}
	return out
}
