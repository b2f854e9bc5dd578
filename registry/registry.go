package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Registry is the registry that trainers publish into and servers read: metadata in
// a Store, model files in an ArtifactStore. It is safe for concurrent use, as long
// as its stores are.
type Registry struct {
	store     Store
	artifacts ArtifactStore
}

// New returns a registry over the given stores; Close closes both.
func New(store Store, artifacts ArtifactStore) *Registry {
	return &Registry{store: store, artifacts: artifacts}
}

// Close closes the metadata store and the artifact store.
func (r *Registry) Close() error {
	return errors.Join(r.store.Close(), r.artifacts.Close())
}

// PublishRequest is a new version to publish: its artifact and metadata.
type PublishRequest struct {
	Model string

	// ModelDescription describes the model if this publish creates it; it is
	// ignored for a model that exists.
	ModelDescription string

	Description string
	Signature   Signature
	Tags        map[string]string
	Card        ModelCard
	Metrics     map[string]float64
	Lineage     Lineage

	// Reference is the training-data profile for drift reports; it may be empty.
	Reference json.RawMessage

	// Artifact is the model file, an ONNX graph for hydrocast's servers.
	Artifact []byte

	// Promote, when set, points an alias at the new version in the same step.
	Promote *Promotion
}

// Publish stores the request's artifact and inserts a ready version for it, moving
// an alias to it when asked. The metadata change is all or nothing: when it fails
// no version is visible, though the artifact may stay in the store, where an
// identical later publish reuses it.
func (r *Registry) Publish(ctx context.Context, req PublishRequest) (Version, error) {
	if len(req.Artifact) == 0 {
		return Version{}, fmt.Errorf("publish %s: %w", req.Model, invalid("empty artifact"))
	}
	sum := sha256.Sum256(req.Artifact)
	nv := newVersion(req, StatusReady, hex.EncodeToString(sum[:]), int64(len(req.Artifact)))

	// Reject what the store would reject before spending an upload on it.
	if _, err := PrincipalFrom(ctx); err != nil {
		return Version{}, fmt.Errorf("publish %s: %w", req.Model, err)
	}
	if err := nv.Check(); err != nil {
		return Version{}, fmt.Errorf("publish %s: %w", req.Model, err)
	}

	// TODO: an artifact whose metadata step then fails stays in the store with no
	// version naming it; nothing collects such files yet, so each costs its size
	// on disk or in the bucket until someone deletes it by hand.
	digest, err := r.artifacts.Put(ctx, req.Artifact)
	if err != nil {
		return Version{}, fmt.Errorf("publish %s: store artifact: %w", req.Model, err)
	}
	if digest != nv.Version.Digest {
		return Version{}, fmt.Errorf("publish %s: artifact store returned digest %s for %s",
			req.Model, digest, nv.Version.Digest)
	}

	v, err := r.store.CreateVersion(ctx, nv)
	if err != nil {
		return Version{}, fmt.Errorf("publish %s: %w", req.Model, err)
	}
	return v, nil
}

// Model returns the named model with its latest version number and aliases.
func (r *Registry) Model(ctx context.Context, name string) (Model, error) {
	return r.store.Model(ctx, name)
}

// Models returns every model, sorted by name.
func (r *Registry) Models(ctx context.Context) ([]Model, error) {
	return r.store.Models(ctx)
}

// Version returns one version of a model.
func (r *Registry) Version(ctx context.Context, model string, number int) (Version, error) {
	return r.store.Version(ctx, model, number)
}

// Versions returns every version of a model, oldest first.
func (r *Registry) Versions(ctx context.Context, model string) ([]Version, error) {
	return r.store.Versions(ctx, model)
}

// Resolve returns the version that ref names: an alias such as "production", or a
// version number in decimal. Aliases point only at ready versions; a version named
// by number may be in any status.
func (r *Registry) Resolve(ctx context.Context, model, ref string) (Version, error) {
	if n, err := strconv.Atoi(ref); err == nil {
		return r.store.Version(ctx, model, n)
	}
	return r.store.Resolve(ctx, model, ref)
}

// Artifact returns the version's model file, checked against its digest and size:
// ErrCorrupt when it no longer matches, ErrNotFound when it is gone.
func (r *Registry) Artifact(ctx context.Context, v Version) ([]byte, error) {
	if err := CheckDigest(v.Digest); err != nil {
		return nil, fmt.Errorf("artifact of %s version %d: %w", v.Model, v.Number, err)
	}
	data, err := r.artifacts.Get(ctx, v.Digest)
	if err != nil {
		return nil, fmt.Errorf("artifact of %s version %d: %w", v.Model, v.Number, err)
	}
	if int64(len(data)) != v.Size {
		return nil, fmt.Errorf("artifact of %s version %d: %d bytes, want %d: %w",
			v.Model, v.Number, len(data), v.Size, ErrCorrupt)
	}
	return data, nil
}

// SetAlias points an alias at a ready version and records the move.
func (r *Registry) SetAlias(ctx context.Context, m AliasMove) (AliasEvent, error) {
	return r.store.MoveAlias(ctx, m)
}

// Rollback moves an alias back to the version it pointed at before its latest
// move, in one step, and records that as a move. See Store.Rollback.
func (r *Registry) Rollback(ctx context.Context, model, alias, reason string) (AliasEvent, error) {
	return r.store.Rollback(ctx, model, alias, reason)
}

// History returns an alias's moves, newest first; an empty alias returns those of
// all the model's aliases.
func (r *Registry) History(ctx context.Context, model, alias string) ([]AliasEvent, error) {
	return r.store.History(ctx, model, alias)
}

// SetStatus changes a version's status, for example to mark it failed.
func (r *Registry) SetStatus(ctx context.Context, c StatusChange) (Version, error) {
	return r.store.SetStatus(ctx, c)
}

// Audit returns the audit entries that q selects, oldest first.
func (r *Registry) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	return r.store.Audit(ctx, q)
}

// Revision returns a number that grows with every change to the registry, so that a
// server can poll it and reload only when it moved.
func (r *Registry) Revision(ctx context.Context) (int64, error) {
	return r.store.Revision(ctx)
}

// SetTraffic sets a model's traffic policy. See Store.SetTraffic.
func (r *Registry) SetTraffic(ctx context.Context, c TrafficChange) (TrafficEvent, error) {
	return r.store.SetTraffic(ctx, c)
}

// ClearTraffic removes a model's traffic policy, so that its production alias serves
// all requests again.
func (r *Registry) ClearTraffic(ctx context.Context, model, reason string) (TrafficEvent,
	error) {
	return r.store.ClearTraffic(ctx, model, reason)
}

// Traffic returns a model's traffic policy, or an error wrapping ErrNotFound when it
// has none.
func (r *Registry) Traffic(ctx context.Context, model string) (TrafficPolicy, error) {
	return r.store.Traffic(ctx, model)
}

// TrafficHistory returns a model's traffic policy changes, newest first.
func (r *Registry) TrafficHistory(ctx context.Context, model string) ([]TrafficEvent, error) {
	return r.store.TrafficHistory(ctx, model)
}
