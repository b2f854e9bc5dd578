package auth

import (
	"context"
	"testing"
	"time"
)

type otherKey struct{}

// The context admit builds answers for the request id and the principal, hands every
// other key, the deadline and cancellation to the context it wraps, and names no
// principal on a public method even when an outer context holds one.
func TestAdmitContext(t *testing.T) {
	g := New(Options{})
	parent, cancel := context.WithTimeout(
		context.WithValue(context.Background(), otherKey{}, "kept"), time.Hour)

	ctx := g.admit(parent, Principal{Subject: "coach-app", Roles: []Role{RoleService}},
		"req-1")
	if id := RequestID(ctx); id != "req-1" {
		t.Errorf("request id %q, want req-1", id)
	}
	if p, ok := FromContext(ctx); !ok || p.Subject != "coach-app" {
		t.Errorf("principal %+v, %v; want coach-app", p, ok)
	}
	if v := ctx.Value(otherKey{}); v != "kept" {
		t.Errorf("outer value %v, want kept", v)
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) < time.Minute {
		t.Errorf("deadline %v, %v; want the parent's", d, ok)
	}

	public := g.admit(NewContext(parent, localPrincipal), Principal{}, "req-2")
	if p, ok := FromContext(public); !ok || p.Subject != LocalSubject {
		t.Errorf("public call: principal %+v, %v; want the outer one", p, ok)
	}
	if id := RequestID(public); id != "req-2" {
		t.Errorf("public call: request id %q, want req-2", id)
	}

	// A context derived from it is cancelled with the parent.
	child, stop := context.WithCancel(ctx)
	defer stop()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("child of the admitted context not cancelled with its parent")
	}
	if RequestID(child) != "req-1" {
		t.Errorf("child lost the request id")
	}
}
