package registrytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hydrocast/hydrocast/registry"
)

// TestStore runs the behaviour suite on a Store engine. newBackend returns an
// Opener on a new, empty backing database, which it cleans up with t.Cleanup.
func TestStore(t *testing.T, newBackend func(t *testing.T) Opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"CreateAndRead", testCreateAndRead},
		{"Numbering", testNumbering},
		{"ConcurrentNumbering", testConcurrentNumbering},
		{"InvalidVersion", testInvalidVersion},
		{"FailedCreateLeavesNothing", testFailedCreate},
		{"AliasMoves", testAliasMoves},
		{"AliasErrors", testAliasErrors},
		{"Rollback", testRollback},
		{"RollbackErrors", testRollbackErrors},
		{"Status", testStatus},
		{"AuditAndRevision", testAuditAndRevision},
		{"Reopen", testReopen},
		{"Traffic", testTraffic},
		{"TrafficErrors", testTrafficErrors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newBackend(t))
		})
	}
}

// mustOpen opens a store that t closes when it ends.
func mustOpen(t *testing.T, open Opener) registry.Store {
	t.Helper()
	s, err := open(t.Context())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

func mustCreate(t *testing.T, s registry.Store, nv registry.NewVersion) registry.Version {
	t.Helper()
	v, err := s.CreateVersion(Context(t), nv)
	if err != nil {
		t.Fatalf("create version of %s: %v", nv.Version.Model, err)
	}
	return v
}

func mustMove(t *testing.T, s registry.Store, m registry.AliasMove) registry.AliasEvent {
	t.Helper()
	e, err := s.MoveAlias(Context(t), m)
	if err != nil {
		t.Fatalf("move %s to %d: %v", m.Alias, m.Version, err)
	}
	return e
}

// sameJSON fails t unless got and want encode to the same JSON, the shape that
// clients see; this also equates nil and empty maps, which JSON does not tell apart.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: encode: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("%s: encode: %v", what, err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func testCreateAndRead(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	nv := NewVersion("sweat-rate", 7)
	got := mustCreate(t, s, nv)

	want := nv.Version
	want.Number = 1
	want.Created = got.Created
	if got.Created.IsZero() {
		t.Error("created time is zero")
	}
	sameJSON(t, "created version", got, want)

	read, err := s.Version(t.Context(), "sweat-rate", 1)
	if err != nil {
		t.Fatalf("read version: %v", err)
	}
	sameJSON(t, "read version", read, want)

	m, err := s.Model(t.Context(), "sweat-rate")
	if err != nil {
		t.Fatalf("read model: %v", err)
	}
	if m.Name != "sweat-rate" || m.Description != nv.ModelDescription || m.Latest != 1 {
		t.Errorf("model = %+v, want sweat-rate, %q, latest 1", m, nv.ModelDescription)
	}

	reads := []struct {
		name string
		err  error
		call func() error
	}{
		{"unknown model", registry.ErrNotFound, func() error {
			_, err := s.Model(t.Context(), "core-temp")
			return err
		}},
		{"unknown version", registry.ErrNotFound, func() error {
			_, err := s.Version(t.Context(), "sweat-rate", 2)
			return err
		}},
		{"version zero", registry.ErrInvalid, func() error {
			_, err := s.Version(t.Context(), "sweat-rate", 0)
			return err
		}},
		{"malformed model name", registry.ErrInvalid, func() error {
			_, err := s.Versions(t.Context(), "Sweat Rate")
			return err
		}},
		{"unknown alias", registry.ErrNotFound, func() error {
			_, err := s.Resolve(t.Context(), "sweat-rate", "production")
			return err
		}},
	}
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			if err := r.call(); !errors.Is(err, r.err) {
				t.Errorf("error %v, want %v", err, r.err)
			}
		})
	}
}

func testNumbering(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	steps := []struct {
		model string
		want  int
	}{
		{"sweat-rate", 1}, {"sweat-rate", 2}, {"core-temp", 1}, {"sweat-rate", 3},
		{"core-temp", 2},
	}
	for i, st := range steps {
		v := mustCreate(t, s, NewVersion(st.model, int64(i)))
		if v.Number != st.want {
			t.Errorf("step %d: %s got version %d, want %d", i, st.model, v.Number, st.want)
		}
	}

	models, err := s.Models(t.Context())
	if err != nil {
		t.Fatalf("list models: %v", err)
	}
	var names []string
	for _, m := range models {
		names = append(names, fmt.Sprintf("%s@%d", m.Name, m.Latest))
	}
	if want := []string{"core-temp@2", "sweat-rate@3"}; !slices.Equal(names, want) {
		t.Errorf("models %v, want %v", names, want)
	}

	versions, err := s.Versions(t.Context(), "sweat-rate")
	if err != nil {
		t.Fatalf("list versions: %v", err)
	}
	var seeds []int64
	for _, v := range versions {
		seeds = append(seeds, v.Lineage.Seed)
	}
	if want := []int64{0, 1, 3}; !slices.Equal(seeds, want) {
		t.Errorf("versions hold seeds %v, want %v (oldest first)", seeds, want)
	}
}

func testConcurrentNumbering(t *testing.T, open Opener) {
	const writers, each = 8, 5
	// Two stores on one backend stand for two processes sharing the registry.
	stores := []registry.Store{mustOpen(t, open), mustOpen(t, open)}

	numbers := make(chan int, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			for i := range each {
				v, err := s.CreateVersion(Context(t), NewVersion("sweat-rate",
					int64(w*each+i)))
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				numbers <- v.Number
			}
		})
	}
	wg.Wait()
	close(numbers)

	var got []int
	for n := range numbers {
		got = append(got, n)
	}
	slices.Sort(got)
	for i, n := range got {
		if n != i+1 {
			t.Fatalf("numbers handed out %v, want 1 to %d each once", got, writers*each)
		}
	}
	if len(got) != writers*each {
		t.Errorf("%d versions created, want %d", len(got), writers*each)
	}
}

func testInvalidVersion(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	tests := []struct {
		name   string
		change func(nv *registry.NewVersion)
	}{
		{"model name", func(nv *registry.NewVersion) { nv.Version.Model = "../etc" }},
		{"digest", func(nv *registry.NewVersion) { nv.Version.Digest = "abc" }},
		{"failed status", func(nv *registry.NewVersion) {
			nv.Version.Status = registry.StatusFailed
		}},
		{"no outputs", func(nv *registry.NewVersion) { nv.Version.Signature.Outputs = nil }},
		{"features against shape", func(nv *registry.NewVersion) {
			nv.Version.Signature.Inputs[0].Shape = []int64{-1, 3}
		}},
		{"infinite metric", func(nv *registry.NewVersion) {
			nv.Version.Metrics = map[string]float64{"mae": 1 / zero()}
		}},
		{"card document", func(nv *registry.NewVersion) {
			nv.Version.Card.Document = json.RawMessage(`{"open":`)
		}},
		{"alias name", func(nv *registry.NewVersion) {
			nv.Promote = &registry.Promotion{Alias: "42"}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nv := NewVersion("sweat-rate", int64(i))
			tt.change(&nv)
			if _, err := s.CreateVersion(Context(t), nv); !errors.Is(err, registry.ErrInvalid) {
				t.Errorf("error %v, want ErrInvalid", err)
			}
		})
	}

	t.Run("no principal", func(t *testing.T) {
		_, err := s.CreateVersion(t.Context(), NewVersion("sweat-rate", 1))
		if !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("error %v, want ErrInvalid", err)
		}
	})

	if models, err := s.Models(t.Context()); err != nil || len(models) != 0 {
		t.Errorf("after invalid requests: models %v, error %v; want none", models, err)
	}
}

// zero hides a zero divisor from the compiler, which rejects constant division.
func zero() float64 { return 0 }

func testFailedCreate(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	first := NewVersion("sweat-rate", 1)
	first.Promote = &registry.Promotion{Alias: "production"}
	mustCreate(t, s, first)
	before, err := s.Revision(t.Context())
	if err != nil {
		t.Fatalf("revision: %v", err)
	}

	// The version row is written before the alias check fails, so this proves the
	// transaction undoes it.
	tests := []struct {
		name  string
		model string
	}{
		{"existing model", "sweat-rate"},
		{"new model", "core-temp"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nv := NewVersion(tt.model, int64(10+i))
			nv.Promote = &registry.Promotion{Alias: "production", Expect: 5}
			if _, err := s.CreateVersion(Context(t), nv); !errors.Is(err,
				registry.ErrConflict) {
				t.Fatalf("error %v, want ErrConflict", err)
			}
		})
	}

	if _, err := s.Model(t.Context(), "core-temp"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("model of the failed publish: error %v, want ErrNotFound", err)
	}
	versions, err := s.Versions(t.Context(), "sweat-rate")
	if err != nil || len(versions) != 1 {
		t.Errorf("versions after failed publish: %d, error %v; want 1", len(versions), err)
	}
	if after, err := s.Revision(t.Context()); err != nil || after != before {
		t.Errorf("revision %d (error %v) after failed publish, want %d", after, err, before)
	}
	if v := mustCreate(t, s, NewVersion("sweat-rate", 20)); v.Number != 2 {
		t.Errorf("next version is %d, want 2: a failed publish must not use a number",
			v.Number)
	}
}

func testAliasMoves(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	nv := NewVersion("sweat-rate", 1)
	nv.Promote = &registry.Promotion{Alias: "production", Reason: "first model"}
	mustCreate(t, s, nv)
	mustCreate(t, s, NewVersion("sweat-rate", 2))
	mustCreate(t, s, NewVersion("sweat-rate", 3))

	moves := []struct {
		alias    string
		to, from int
	}{
		{"staging", 3, 0}, {"production", 2, 1}, {"production", 3, 2}, {"staging", 1, 3},
	}
	for _, m := range moves {
		e := mustMove(t, s, registry.AliasMove{Model: "sweat-rate", Alias: m.alias,
			Version: m.to, Reason: "promote " + m.alias})
		if e.From != m.from || e.To != m.to || e.ID == 0 || e.Principal != Principal {
			t.Errorf("move %s to %d: event %+v, want from %d with an id and principal",
				m.alias, m.to, e, m.from)
		}
		v, err := s.Resolve(t.Context(), "sweat-rate", m.alias)
		if err != nil || v.Number != m.to {
			t.Errorf("resolve %s: version %d, error %v; want %d", m.alias, v.Number, err,
				m.to)
		}
	}

	model, err := s.Model(t.Context(), "sweat-rate")
	if err != nil {
		t.Fatalf("read model: %v", err)
	}
	sameJSON(t, "aliases", model.Aliases, map[string]int{"production": 3, "staging": 1})
	v3, err := s.Version(t.Context(), "sweat-rate", 3)
	if err != nil || !slices.Equal(v3.Aliases, []string{"production"}) {
		t.Errorf("version 3 aliases %v (error %v), want [production]", v3.Aliases, err)
	}

	history, err := s.History(t.Context(), "sweat-rate", "production")
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	var steps []string
	for _, e := range history {
		steps = append(steps, fmt.Sprintf("%d>%d %s", e.From, e.To, e.Reason))
	}
	want := []string{"2>3 promote production", "1>2 promote production", "0>1 first model"}
	if !slices.Equal(steps, want) {
		t.Errorf("production history %q, want %q (newest first)", steps, want)
	}
	all, err := s.History(t.Context(), "sweat-rate", "")
	if err != nil || len(all) != 5 {
		t.Errorf("history of all aliases: %d moves (error %v), want 5", len(all), err)
	}
}

func testAliasErrors(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	first := NewVersion("sweat-rate", 1)
	first.Promote = &registry.Promotion{Alias: "production"}
	mustCreate(t, s, first)
	pending := NewVersion("sweat-rate", 2)
	pending.Version.Status = registry.StatusPending
	mustCreate(t, s, pending)

	tests := []struct {
		name string
		move registry.AliasMove
		err  error
	}{
		{"unknown model", registry.AliasMove{Model: "core-temp", Alias: "production",
			Version: 1}, registry.ErrNotFound},
		{"unknown version", registry.AliasMove{Model: "sweat-rate", Alias: "production",
			Version: 9}, registry.ErrNotFound},
		{"pending version", registry.AliasMove{Model: "sweat-rate", Alias: "staging",
			Version: 2}, registry.ErrConflict},
		{"expect mismatch", registry.AliasMove{Model: "sweat-rate", Alias: "production",
			Version: 1, Expect: 2}, registry.ErrConflict},
		{"expect on absent alias", registry.AliasMove{Model: "sweat-rate", Alias: "canary",
			Version: 1, Expect: 1}, registry.ErrConflict},
		{"numeric alias", registry.AliasMove{Model: "sweat-rate", Alias: "2",
			Version: 1}, registry.ErrInvalid},
		{"version zero", registry.AliasMove{Model: "sweat-rate", Alias: "production"},
			registry.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.MoveAlias(Context(t), tt.move); !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
		})
	}

	t.Run("same version", func(t *testing.T) {
		before, _ := s.Revision(t.Context())
		e := mustMove(t, s, registry.AliasMove{Model: "sweat-rate", Alias: "production",
			Version: 1})
		after, _ := s.Revision(t.Context())
		if e.ID != 0 || e.From != 1 || e.To != 1 || after != before {
			t.Errorf("event %+v, revision %d to %d; want an unrecorded 1>1 move",
				e, before, after)
		}
	})
}

func testRollback(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	for seed := range int64(3) {
		mustCreate(t, s, NewVersion("sweat-rate", seed))
	}
	for _, to := range []int{1, 2, 3} {
		mustMove(t, s, registry.AliasMove{Model: "sweat-rate", Alias: "production",
			Version: to})
	}

	// Each rollback undoes the latest move, so a second one undoes the first.
	steps := []struct{ from, to int }{{3, 2}, {2, 3}}
	for _, st := range steps {
		e, err := s.Rollback(Context(t), "sweat-rate", "production", "bad canary")
		if err != nil {
			t.Fatalf("rollback: %v", err)
		}
		if e.From != st.from || e.To != st.to || !e.Rollback || e.ID == 0 ||
			e.Reason != "bad canary" {
			t.Errorf("rollback event %+v, want a recorded rollback %d>%d", e, st.from, st.to)
		}
		v, err := s.Resolve(t.Context(), "sweat-rate", "production")
		if err != nil || v.Number != st.to {
			t.Errorf("after rollback production is %d (error %v), want %d",
				v.Number, err, st.to)
		}
	}

	history, err := s.History(t.Context(), "sweat-rate", "production")
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if len(history) != 5 || !history[0].Rollback || !history[1].Rollback ||
		history[2].Rollback {
		t.Errorf("history %+v, want 3 moves then 2 rollbacks", history)
	}
}

func testRollbackErrors(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	mustCreate(t, s, NewVersion("sweat-rate", 1))
	mustCreate(t, s, NewVersion("sweat-rate", 2))
	mustMove(t, s, registry.AliasMove{Model: "sweat-rate", Alias: "staging", Version: 1})
	mustMove(t, s, registry.AliasMove{Model: "sweat-rate", Alias: "production", Version: 1})
	mustMove(t, s, registry.AliasMove{Model: "sweat-rate", Alias: "production", Version: 2})
	_, err := s.SetStatus(Context(t), registry.StatusChange{Model: "sweat-rate", Version: 1,
		Status: registry.StatusFailed, Reason: "leaks labels"})
	if !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("failing an aliased version: error %v, want ErrConflict", err)
	}
	mustMove(t, s, registry.AliasMove{Model: "sweat-rate", Alias: "staging", Version: 2})
	// staging's latest move is 1>2; fail version 1 so that undoing it is refused.
	_, err = s.SetStatus(Context(t), registry.StatusChange{Model: "sweat-rate", Version: 1,
		Status: registry.StatusFailed, Reason: "leaks labels"})
	if err != nil {
		t.Fatalf("fail version 1: %v", err)
	}

	tests := []struct {
		name, model, alias string
		err                error
	}{
		{"alias never set", "sweat-rate", "canary", registry.ErrNotFound},
		{"unknown model", "core-temp", "production", registry.ErrNotFound},
		{"earlier version failed", "sweat-rate", "production", registry.ErrConflict},
		{"malformed alias", "sweat-rate", "Prod", registry.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Rollback(Context(t), tt.model, tt.alias, "")
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
		})
	}

	t.Run("no history", func(t *testing.T) {
		mustMove(t, s, registry.AliasMove{Model: "sweat-rate", Alias: "shadow", Version: 2})
		before, _ := s.Revision(t.Context())
		_, err := s.Rollback(Context(t), "sweat-rate", "shadow", "")
		if !errors.Is(err, registry.ErrNoHistory) {
			t.Errorf("error %v, want ErrNoHistory", err)
		}
		if after, _ := s.Revision(t.Context()); after != before {
			t.Errorf("a refused rollback moved the revision from %d to %d", before, after)
		}
	})
}

func testStatus(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	pending := NewVersion("sweat-rate", 1)
	pending.Version.Status = registry.StatusPending
	mustCreate(t, s, pending)

	steps := []struct {
		to     registry.Status
		reason string
		err    error
	}{
		{registry.StatusPending, "", registry.ErrConflict},
		{registry.StatusFailed, "", registry.ErrInvalid},
		{registry.StatusReady, "", nil},
		{registry.StatusFailed, "calibration drifted", nil},
		{registry.StatusReady, "", registry.ErrConflict},
	}
	for i, st := range steps {
		v, err := s.SetStatus(Context(t), registry.StatusChange{Model: "sweat-rate",
			Version: 1, Status: st.to, Reason: st.reason})
		if !errors.Is(err, st.err) {
			t.Fatalf("step %d to %s: error %v, want %v", i, st.to, err, st.err)
		}
		if err == nil && (v.Status != st.to || v.StatusReason != st.reason) {
			t.Errorf("step %d: version is %s %q, want %s %q", i, v.Status, v.StatusReason,
				st.to, st.reason)
		}
	}
}

func testAuditAndRevision(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	rev := func() int64 {
		t.Helper()
		r, err := s.Revision(t.Context())
		if err != nil {
			t.Fatalf("revision: %v", err)
		}
		return r
	}
	if r := rev(); r != 0 {
		t.Fatalf("empty store at revision %d, want 0", r)
	}

	mutations := []struct {
		name   string
		action registry.Action
		do     func() error
	}{
		{"create", registry.ActionCreateVersion, func() error {
			_, err := s.CreateVersion(Context(t), NewVersion("sweat-rate", 1))
			return err
		}},
		{"create", registry.ActionCreateVersion, func() error {
			_, err := s.CreateVersion(Context(t), NewVersion("sweat-rate", 2))
			return err
		}},
		{"move", registry.ActionMoveAlias, func() error {
			_, err := s.MoveAlias(Context(t), registry.AliasMove{Model: "sweat-rate",
				Alias: "production", Version: 1})
			return err
		}},
		{"move", registry.ActionMoveAlias, func() error {
			_, err := s.MoveAlias(Context(t), registry.AliasMove{Model: "sweat-rate",
				Alias: "production", Version: 2})
			return err
		}},
		{"rollback", registry.ActionRollbackAlias, func() error {
			_, err := s.Rollback(Context(t), "sweat-rate", "production", "")
			return err
		}},
		{"status", registry.ActionSetStatus, func() error {
			_, err := s.SetStatus(Context(t), registry.StatusChange{Model: "sweat-rate",
				Version: 2, Status: registry.StatusFailed, Reason: "bad"})
			return err
		}},
	}
	last := rev()
	for i, m := range mutations {
		if err := m.do(); err != nil {
			t.Fatalf("mutation %d (%s): %v", i, m.name, err)
		}
		r := rev()
		if r <= last {
			t.Errorf("mutation %d (%s): revision %d after %d, want it to grow",
				i, m.name, r, last)
		}
		entries, err := s.Audit(t.Context(), registry.AuditQuery{After: last})
		if err != nil {
			t.Fatalf("audit: %v", err)
		}
		if n := len(entries); n == 0 || entries[n-1].Action != m.action ||
			entries[n-1].Principal != Principal || entries[n-1].Revision != r {
			t.Errorf("mutation %d: audit since %d is %+v, want it to end with %s by %s "+
				"at revision %d", i, last, entries, m.action, Principal, r)
		}
		last = r
	}

	if _, err := s.Versions(t.Context(), "sweat-rate"); err != nil || rev() != last {
		t.Errorf("a read moved the revision (error %v)", err)
	}
	first, err := s.Audit(t.Context(), registry.AuditQuery{Model: "sweat-rate", Limit: 2})
	if err != nil || len(first) != 2 || first[0].Action != registry.ActionCreateModel {
		t.Errorf("first two audit entries %+v (error %v), want model.create first",
			first, err)
	}
	other, err := s.Audit(t.Context(), registry.AuditQuery{Model: "core-temp"})
	if err != nil || len(other) != 0 {
		t.Errorf("audit of another model: %+v (error %v), want none", other, err)
	}
}

func testReopen(t *testing.T, open Opener) {
	type snapshot struct {
		Models   []registry.Model
		Versions []registry.Version
		History  []registry.AliasEvent
		Audit    []registry.AuditEntry
		Revision int64
	}
	take := func(s registry.Store) snapshot {
		t.Helper()
		var snap snapshot
		var errs [5]error
		snap.Models, errs[0] = s.Models(t.Context())
		snap.Versions, errs[1] = s.Versions(t.Context(), "sweat-rate")
		snap.History, errs[2] = s.History(t.Context(), "sweat-rate", "")
		snap.Audit, errs[3] = s.Audit(t.Context(), registry.AuditQuery{})
		snap.Revision, errs[4] = s.Revision(t.Context())
		if err := errors.Join(errs[:]...); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		return snap
	}

	s, err := open(t.Context())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	for seed := range int64(3) {
		nv := NewVersion("sweat-rate", seed)
		nv.Promote = &registry.Promotion{Alias: "production", Reason: "nightly"}
		mustCreate(t, s, nv)
	}
	mustCreate(t, s, NewVersion("core-temp", 9))
	if _, err := s.Rollback(Context(t), "sweat-rate", "production", "regression"); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	before := take(s)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	after := take(mustOpen(t, open))
	sameJSON(t, "registry after reopening", after, before)
	if len(before.Versions) != 3 || len(before.History) != 4 {
		t.Errorf("snapshot holds %d versions and %d moves, want 3 and 4",
			len(before.Versions), len(before.History))
	}
}
