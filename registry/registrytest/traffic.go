package registrytest

import (
	"errors"
	"slices"
	"testing"

	"github.com/hydrocast/hydrocast/registry"
)

func mustSetTraffic(t *testing.T, s registry.Store, p registry.TrafficPolicy,
	reason string) registry.TrafficEvent {
	t.Helper()
	e, err := s.SetTraffic(Context(t), registry.TrafficChange{Policy: p, Reason: reason})
	if err != nil {
		t.Fatalf("set traffic %s: %v", p.Split(), err)
	}
	return e
}

func testTraffic(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	for seed := range int64(5) {
		mustCreate(t, s, NewVersion("sweat-rate", seed))
	}
	if _, err := s.Traffic(t.Context(), "sweat-rate"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("policy of a model without one: error %v, want ErrNotFound", err)
	}

	before, _ := s.Revision(t.Context())
	e := mustSetTraffic(t, s, registry.TrafficPolicy{Model: "sweat-rate",
		Arms:   []registry.TrafficArm{{Version: 4, Weight: 10}, {Version: 3, Weight: 90}},
		Shadow: 5}, "try v4 on a tenth")
	if e.ID == 0 || e.Policy == nil || e.Principal != Principal || e.Policy.Salt == "" {
		t.Errorf("event %+v, want a recorded change by %s with a drawn salt", e, Principal)
	}
	after, _ := s.Revision(t.Context())
	if after <= before {
		t.Errorf("revision %d after setting a policy, want above %d", after, before)
	}

	got, err := s.Traffic(t.Context(), "sweat-rate")
	if err != nil {
		t.Fatalf("read policy: %v", err)
	}
	if got.Split() != "3=90,4=10" || got.Shadow != 5 || got.Salt != e.Policy.Salt ||
		got.Reason != "try v4 on a tenth" || got.Principal != Principal {
		t.Errorf("policy %+v, want 3=90,4=10 shadow 5, sorted, with reason and principal",
			got)
	}
	sameJSON(t, "policy read back", got, *e.Policy)

	// An empty salt keeps the experiment; a new one replaces it.
	mustSetTraffic(t, s, registry.TrafficPolicy{Model: "sweat-rate",
		Arms: []registry.TrafficArm{{Version: 3, Weight: 0.5}, {Version: 4, Weight: 0.5}}},
		"ramp up")
	if p, _ := s.Traffic(t.Context(), "sweat-rate"); p.Salt != got.Salt || p.Shadow != 0 {
		t.Errorf("after ramp: salt %q shadow %d, want salt %q kept and no shadow",
			p.Salt, p.Shadow, got.Salt)
	}
	mustSetTraffic(t, s, registry.TrafficPolicy{Model: "sweat-rate", Salt: "exp-2",
		Arms: []registry.TrafficArm{{Version: 4, Weight: 1}}}, "all on v4")

	// Versions a policy names cannot fail.
	_, err = s.SetStatus(Context(t), registry.StatusChange{Model: "sweat-rate", Version: 4,
		Status: registry.StatusFailed, Reason: "bad"})
	if !errors.Is(err, registry.ErrConflict) {
		t.Errorf("failing a version the policy serves: error %v, want ErrConflict", err)
	}

	if _, err := s.ClearTraffic(Context(t), "sweat-rate", "experiment over"); err != nil {
		t.Fatalf("clear: %v", err)
	}
	if _, err := s.Traffic(t.Context(), "sweat-rate"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("policy after clearing: error %v, want ErrNotFound", err)
	}
	_, err = s.ClearTraffic(Context(t), "sweat-rate", "again")
	if !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("clearing twice: error %v, want ErrNotFound", err)
	}

	history, err := s.TrafficHistory(t.Context(), "sweat-rate")
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	var steps []string
	for _, e := range history {
		step := "cleared"
		if e.Policy != nil {
			step = e.Policy.Describe()
		}
		steps = append(steps, step+": "+e.Reason)
	}
	salt := got.Salt
	want := []string{"cleared: experiment over", "4=1 salt exp-2: all on v4",
		"3=0.5,4=0.5 salt " + salt + ": ramp up",
		"3=90,4=10 shadow 5 salt " + salt + ": try v4 on a tenth"}
	if !slices.Equal(steps, want) {
		t.Errorf("history %q, want %q (newest first)", steps, want)
	}

	entries, err := s.Audit(t.Context(), registry.AuditQuery{After: before})
	if err != nil {
		t.Fatal(err)
	}
	var actions []registry.Action
	for _, a := range entries {
		actions = append(actions, a.Action)
	}
	wantActions := []registry.Action{registry.ActionSetTraffic, registry.ActionSetTraffic,
		registry.ActionSetTraffic, registry.ActionClearTraffic}
	if !slices.Equal(actions, wantActions) {
		t.Errorf("audit actions %v, want %v", actions, wantActions)
	}
}

func testTrafficErrors(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	mustCreate(t, s, NewVersion("sweat-rate", 1))
	mustCreate(t, s, NewVersion("sweat-rate", 2))
	pending := NewVersion("sweat-rate", 3)
	pending.Version.Status = registry.StatusPending
	mustCreate(t, s, pending)

	arms := func(split ...float64) []registry.TrafficArm {
		var out []registry.TrafficArm
		for i := 0; i < len(split); i += 2 {
			out = append(out, registry.TrafficArm{Version: int(split[i]),
				Weight: split[i+1]})
		}
		return out
	}
	tests := []struct {
		name   string
		policy registry.TrafficPolicy
		reason string
		err    error
	}{
		{"unknown model", registry.TrafficPolicy{Model: "core-temp", Arms: arms(1, 1)},
			"x", registry.ErrNotFound},
		{"unknown version", registry.TrafficPolicy{Model: "sweat-rate",
			Arms: arms(1, 50, 9, 50)}, "x", registry.ErrNotFound},
		{"pending version", registry.TrafficPolicy{Model: "sweat-rate",
			Arms: arms(1, 50, 3, 50)}, "x", registry.ErrConflict},
		{"pending shadow", registry.TrafficPolicy{Model: "sweat-rate", Arms: arms(1, 1),
			Shadow: 3}, "x", registry.ErrConflict},
		{"weights sum to 90", registry.TrafficPolicy{Model: "sweat-rate",
			Arms: arms(1, 50, 2, 40)}, "x", registry.ErrInvalid},
		{"zero weight", registry.TrafficPolicy{Model: "sweat-rate",
			Arms: arms(1, 1, 2, 0)}, "x", registry.ErrInvalid},
		{"version twice", registry.TrafficPolicy{Model: "sweat-rate",
			Arms: arms(1, 50, 1, 50)}, "x", registry.ErrInvalid},
		{"shadow serves", registry.TrafficPolicy{Model: "sweat-rate", Arms: arms(1, 1),
			Shadow: 1}, "x", registry.ErrInvalid},
		{"no arms", registry.TrafficPolicy{Model: "sweat-rate"}, "x", registry.ErrInvalid},
		{"no reason", registry.TrafficPolicy{Model: "sweat-rate", Arms: arms(1, 1)}, "",
			registry.ErrInvalid},
	}
	before, _ := s.Revision(t.Context())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SetTraffic(Context(t), registry.TrafficChange{Policy: tt.policy,
				Reason: tt.reason})
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
		})
	}
	if after, _ := s.Revision(t.Context()); after != before {
		t.Errorf("refused policies moved the revision from %d to %d", before, after)
	}
	_, err := s.SetTraffic(t.Context(), registry.TrafficChange{Reason: "x",
		Policy: registry.TrafficPolicy{Model: "sweat-rate", Arms: arms(1, 1)}})
	if !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("no principal: error %v, want ErrInvalid", err)
	}
}
