package registry

import (
	"context"
	"errors"
	"fmt"
)

// Errors that callers branch on. Stores and Registry wrap them with the model,
// version or alias concerned; test with errors.Is.
var (
	// ErrNotFound means the model, version or alias does not exist.
	ErrNotFound = errors.New("registry: not found")

	// ErrConflict means the request cannot apply to the registry's current state,
	// for example aliasing a version that is not ready or a failed Expect check.
	ErrConflict = errors.New("registry: conflict")

	// ErrInvalid means the request itself is malformed, whatever the state.
	ErrInvalid = errors.New("registry: invalid request")

	// ErrNoHistory means an alias cannot be rolled back because it has pointed at
	// only one version since it was created.
	ErrNoHistory = errors.New("registry: alias has no earlier version")

	// ErrCorrupt means an artifact's bytes no longer match its SHA-256 digest.
	ErrCorrupt = errors.New("registry: artifact corrupt")
)

// Store keeps the registry's metadata. Every mutation runs in one transaction that
// also writes its audit entries, reads the principal from the context (see
// WithPrincipal) and fails with ErrInvalid when there is none.
//
// registry/sqlite and registry/postgres implement it; registry/registrytest holds
// the suite that every implementation must pass.
type Store interface {
	// CreateVersion numbers and inserts a version, creating its model first when
	// needed and moving an alias to it when asked, all or nothing. The returned
	// version is as stored.
	CreateVersion(ctx context.Context, nv NewVersion) (Version, error)

	// SetStatus changes a version's status and returns the version as stored. A
	// version that an alias or the traffic policy names cannot be marked failed.
	SetStatus(ctx context.Context, c StatusChange) (Version, error)

	// MoveAlias points an alias at a ready version and records the move. Moving an
	// alias to the version it already points at records nothing and returns an
	// event with ID 0.
	MoveAlias(ctx context.Context, m AliasMove) (AliasEvent, error)

	// Rollback moves an alias back to the version it pointed at before its latest
	// move, records that as a move marked Rollback and returns it. A second
	// rollback therefore undoes the first. It fails with ErrNoHistory when the
	// alias has never moved and with ErrConflict when the earlier version is no
	// longer ready.
	Rollback(ctx context.Context, model, alias, reason string) (AliasEvent, error)

	// Model returns one model; Models returns all, sorted by name.
	Model(ctx context.Context, name string) (Model, error)
	Models(ctx context.Context) ([]Model, error)

	// Version returns one version; Versions returns all of a model, oldest first.
	Version(ctx context.Context, model string, number int) (Version, error)
	Versions(ctx context.Context, model string) ([]Version, error)

	// Resolve returns the version an alias points at.
	Resolve(ctx context.Context, model, alias string) (Version, error)

	// History returns an alias's moves, newest first; an empty alias returns the
	// moves of all the model's aliases.
	History(ctx context.Context, model, alias string) ([]AliasEvent, error)

	// Audit returns audit entries, oldest first.
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)

	// SetTraffic sets a model's traffic policy, replacing any it has, after checking
	// that every version it names is ready; an empty salt keeps the replaced
	// policy's or draws a new one. It records the change in the model's traffic
	// history and the audit trail and returns the event, whose Policy is as stored.
	SetTraffic(ctx context.Context, c TrafficChange) (TrafficEvent, error)

	// ClearTraffic removes a model's traffic policy, so that its production alias
	// serves all requests again, and records that. It fails with ErrNotFound when
	// the model has no policy.
	ClearTraffic(ctx context.Context, model, reason string) (TrafficEvent, error)

	// Traffic returns a model's traffic policy, or an error wrapping ErrNotFound
	// when the model or its policy does not exist.
	Traffic(ctx context.Context, model string) (TrafficPolicy, error)

	// TrafficHistory returns a model's traffic policy changes, newest first.
	TrafficHistory(ctx context.Context, model string) ([]TrafficEvent, error)

	// Revision returns a number that grows with every committed mutation, so that
	// a server can poll it cheaply and reload only when it changed. It is 0 for an
	// empty registry.
	Revision(ctx context.Context) (int64, error)

	// Close releases the store's resources.
	Close() error
}

// NewVersion is what Store.CreateVersion inserts.
type NewVersion struct {
	// Version holds the new version's fields. The store assigns Number and
	// Created and ignores the read-only fields; an empty Status means ready.
	Version Version

	// ModelDescription describes the model if this call creates it.
	ModelDescription string

	// Promote, when set, moves an alias to the new version in the same
	// transaction.
	Promote *Promotion
}

// Promotion asks for an alias to point at a version being published.
type Promotion struct {
	Alias  string `json:"alias"`
	Reason string `json:"reason,omitempty"`

	// Expect, when not zero, makes the publish conditional on the alias pointing
	// at version Expect, as in AliasMove.
	Expect int `json:"expect,omitempty"`
}

// ArtifactStore keeps model files addressed by the SHA-256 of their content, so that
// identical files are stored once and a reader can tell a damaged file.
// registry/blobstore implements it on local folders and cloud buckets.
type ArtifactStore interface {
	// Put stores data durably and returns its lowercase hex SHA-256 digest.
	// Storing the same bytes again is harmless.
	Put(ctx context.Context, data []byte) (digest string, err error)

	// Get returns the bytes stored under digest after checking them against it:
	// ErrNotFound when absent, ErrCorrupt when they no longer match.
	Get(ctx context.Context, digest string) ([]byte, error)

	// Close releases the store's resources.
	Close() error
}

type principalKey struct{}

// WithPrincipal returns a context that carries the identity, a user or a service
// account, on whose behalf registry mutations are made and audited.
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey{}, principal)
}

// PrincipalFrom returns the principal that WithPrincipal put in ctx. It fails with
// ErrInvalid when there is none, since every mutation must be attributable.
func PrincipalFrom(ctx context.Context) (string, error) {
	p, _ := ctx.Value(principalKey{}).(string)
	if p == "" {
		return "", fmt.Errorf("%w: no principal in the context (see WithPrincipal)", ErrInvalid)
	}
	if err := checkText("principal", p, maxNameText); err != nil {
		return "", err
	}
	return p, nil
}
