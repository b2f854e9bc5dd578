package inference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/registry"
)

// WatchOptions configure Server.Watch.
type WatchOptions struct {
	// Interval is how often the registry's revision is polled. Zero means 2 s.
	Interval time.Duration

	// Alias names the version that serves a family without a traffic policy. Empty
	// means "production".
	Alias string

	// Runtime configures the sessions of newly loaded versions.
	Runtime ort.Options

	// RetireCorrupt, when set, takes a version whose artifact is corrupt out of the
	// registry's service: each alias whose latest move went to it moves back to the
	// version it came from, a traffic policy naming it is cleared, and the version is
	// marked failed, each step audited as Principal. Without it the version is marked
	// failed only when nothing names it, and the refusal is logged otherwise. Either
	// way the server keeps serving what it has.
	RetireCorrupt bool

	// Principal is who the registry records for RetireCorrupt's changes. Empty means
	// "hydrocast-serve".
	Principal string
}

// Watch polls the registry's revision every interval until ctx ends and, when it
// moved, reads the plan of what to serve (traffic policies and aliases); when that
// differs from the served set's, it loads the new set, warms it and swaps it in,
// and the old set is freed once its requests finish. A set that fails to load is
// logged and the served one stays; a version whose artifact is corrupt is marked
// failed in the registry (see WatchOptions.RetireCorrupt) and not retried until the
// registry changes again. Other failures are retried at the next poll.
func (s *Server) Watch(ctx context.Context, reg *registry.Registry, opts WatchOptions) {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Alias == "" {
		opts.Alias = "production"
	}
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	var seen int64 = -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rev, err := reg.Revision(ctx)
		if err != nil {
			s.log.Warn("read registry revision", "err", err)
			continue
		}
		if rev == seen {
			continue
		}
		if s.reload(ctx, reg, opts) {
			seen = rev
		}
	}
}

// reload serves the registry's current plan when it differs from the served one,
// and reports whether the revision it read is dealt with.
func (s *Server) reload(ctx context.Context, reg *registry.Registry, opts WatchOptions) bool {
	plan, err := PlanModels(ctx, reg, opts.Alias)
	if err != nil {
		s.log.Warn("read registry plan", "err", err)
		return false
	}
	if cur := s.Models(); cur != nil && cur.Plan() != nil && cur.Plan().Key() == plan.Key() {
		return true
	}

	set, err := LoadPlan(ctx, reg, plan, opts.Runtime)
	var lerr *LoadError
	if errors.Is(err, registry.ErrCorrupt) && errors.As(err, &lerr) {
		s.log.Error("model artifact corrupt; keeping the served versions",
			"model", lerr.Version.Model, "version", lerr.Version.Number, "err", err)
		s.markFailed(ctx, reg, lerr, opts)
		return true
	}
	if err != nil {
		s.log.Warn("load models; keeping the served versions", "err", err)
		return false
	}
	s.SetModels(set)
	s.log.Info("serving new model versions", "versions", set.Versions(),
		"loaded", set.Served())
	return true
}

// markFailed records in the registry that a version's artifact is corrupt, first
// retiring it from aliases and the traffic policy when opts ask for that.
func (s *Server) markFailed(ctx context.Context, reg *registry.Registry, lerr *LoadError,
	opts WatchOptions) {
	v := lerr.Version
	if v.Status == registry.StatusFailed {
		return
	}
	principal := opts.Principal
	if principal == "" {
		principal = "hydrocast-serve"
	}
	ctx = registry.WithPrincipal(ctx, principal)
	reason := fmt.Sprintf("artifact of version %d corrupt on load", v.Number)

	var errs []error
	if opts.RetireCorrupt {
		errs = append(errs, retire(ctx, reg, v, reason))
	}
	_, err := reg.SetStatus(ctx, registry.StatusChange{Model: v.Model, Version: v.Number,
		Status: registry.StatusFailed, Reason: reason})
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "retire corrupt version",
			slog.String("model", v.Model), slog.Int("version", v.Number),
			slog.String("err", err.Error()))
		return
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "corrupt version marked failed",
		slog.String("model", v.Model), slog.Int("version", v.Number))
}

// retire moves back each alias whose latest move went to v, on the condition that it
// still points there, and clears a traffic policy that names v.
func retire(ctx context.Context, reg *registry.Registry, v registry.Version,
	reason string) error {
	var errs []error
	latest := map[string]registry.AliasEvent{}
	history, err := reg.History(ctx, v.Model, "")
	if err != nil {
		return err
	}
	for _, e := range history { // newest first
		if _, ok := latest[e.Alias]; !ok {
			latest[e.Alias] = e
		}
	}
	for alias, e := range latest {
		if e.To != v.Number {
			continue
		}
		if e.From == 0 {
			errs = append(errs, fmt.Errorf("alias %s has no version to move back to", alias))
			continue
		}
		_, err := reg.SetAlias(ctx, registry.AliasMove{Model: v.Model, Alias: alias,
			Version: e.From, Expect: v.Number, Reason: reason})
		errs = append(errs, err)
	}

	policy, err := reg.Traffic(ctx, v.Model)
	switch {
	case errors.Is(err, registry.ErrNotFound):
	case err != nil:
		errs = append(errs, err)
	case policy.Names(v.Number):
		_, err := reg.ClearTraffic(ctx, v.Model, reason)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
