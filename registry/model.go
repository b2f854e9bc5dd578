// Package registry holds hydrocast's model registry: the models that trainers publish,
// their numbered versions with signatures, lineage, metrics and model cards, the
// aliases (production, staging, …) that servers resolve, the history of every alias
// move, the traffic policies that split a model's requests between versions (A/B
// with an optional shadow) with their history, and an audit trail of every change.
//
// The package holds the domain types, the interfaces that storage engines implement
// (Store for metadata, ArtifactStore for model files), Registry, which joins the
// two, and Uploader, which publishes files that arrive in chunks once a Checker has
// passed them. Engines live in sub-packages named after what they wrap:
// registry/sqlite and registry/postgres for metadata, registry/blobstore for
// artifacts; registry/local opens the embedded default on one folder and
// registry/engine opens any combination from URLs. registry/upload checks ONNX
// uploads.
package registry

import (
	"encoding/json"
	"time"
)

// Model is a named family of versions, such as "sweat-rate".
type Model struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`

	// Latest is the highest version number, 0 while the model has none. Stores fill
	// it on reads; it is ignored on writes.
	Latest int `json:"latest_version"`

	// Aliases maps each alias of the model to the version it points at. Stores fill
	// it on reads; it is ignored on writes.
	Aliases map[string]int `json:"aliases,omitempty"`
}

// Status is the life-cycle state of a version.
type Status string

// The states a version can be in. A version is created pending or ready; a pending
// version becomes ready or failed, and a ready one can be marked failed once no alias
// points at it. Only ready versions can be aliased.
const (
	StatusPending Status = "pending"
	StatusReady   Status = "ready"
	StatusFailed  Status = "failed"
)

// Version is one published, immutable build of a model: its artifact and everything
// needed to serve, compare and trace it.
type Version struct {
	Model  string `json:"model"`
	Number int    `json:"version"`
	Status Status `json:"status"`

	// StatusReason says why a version failed; empty otherwise.
	StatusReason string `json:"status_reason,omitempty"`

	Description string             `json:"description,omitempty"`
	Signature   Signature          `json:"signature"`
	Tags        map[string]string  `json:"tags,omitempty"`
	Card        ModelCard          `json:"model_card"`
	Metrics     map[string]float64 `json:"metrics,omitempty"`
	Lineage     Lineage            `json:"lineage"`

	// Digest is the lowercase hex SHA-256 of the artifact, which is also its key in
	// the artifact store; Size is its length in bytes.
	Digest string `json:"artifact_sha256"`
	Size   int64  `json:"artifact_size_bytes"`

	Created time.Time `json:"created"`

	// Reference is the training-data profile that drift reports compare live
	// traffic with. The registry keeps it as an opaque JSON document; it may be
	// empty.
	Reference json.RawMessage `json:"reference_profile,omitempty"`

	// Aliases lists, sorted, the aliases that point at this version. Stores fill it
	// on reads; it is ignored on writes.
	Aliases []string `json:"aliases,omitempty"`
}

// Signature describes the tensors a version takes and returns, in the terms of the
// Open Inference Protocol's tensor metadata.
type Signature struct {
	Inputs  []Tensor `json:"inputs"`
	Outputs []Tensor `json:"outputs"`
}

// Tensor describes one input or output of a model.
type Tensor struct {
	Name string `json:"name"`

	// Datatype is an Open Inference Protocol datatype such as "FP32" or "INT64".
	Datatype string `json:"datatype"`

	// Shape lists the dimensions; -1 marks a dimension that varies, such as the batch.
	Shape []int64 `json:"shape"`

	// Features names, in order, the features an input reads along its last
	// dimension, so that a server builds the tensor by name. Outputs leave it empty.
	Features []string `json:"features,omitempty"`
}

// ModelCard documents a version for people (Markdown) and for tools (a JSON document
// with intended use, data, evaluation and limitations).
type ModelCard struct {
	Markdown string          `json:"markdown,omitempty"`
	Document json.RawMessage `json:"document,omitempty"`
}

// Lineage records where a version came from, so that it can be rebuilt and traced.
type Lineage struct {
	RunID string `json:"run_id,omitempty"`

	// DataFingerprint identifies the exact training data, for example a hash of the
	// training set's files.
	DataFingerprint string `json:"data_fingerprint,omitempty"`

	CodeVersion string `json:"code_version,omitempty"`
	Seed        int64  `json:"seed"`

	// Generator names what produced the data or the model, such as the simulator
	// and its version.
	Generator string `json:"generator,omitempty"`
}

// AliasMove asks for an alias to point at a version. The alias is created when the
// model does not have it yet.
type AliasMove struct {
	Model   string `json:"model"`
	Alias   string `json:"alias"`
	Version int    `json:"version"`

	// Expect, when not zero, makes the move conditional: it happens only while the
	// alias points at version Expect, and fails with ErrConflict otherwise.
	Expect int `json:"expect,omitempty"`

	Reason string `json:"reason,omitempty"`
}

// AliasEvent is one row of an alias's history: a move, a first assignment or a
// rollback.
type AliasEvent struct {
	ID    int64  `json:"id"`
	Model string `json:"model"`
	Alias string `json:"alias"`

	// From is the version the alias pointed at before, 0 when the move created it.
	From int `json:"from_version"`
	To   int `json:"to_version"`

	Principal string    `json:"principal"`
	Reason    string    `json:"reason,omitempty"`
	Rollback  bool      `json:"rollback,omitempty"`
	Time      time.Time `json:"time"`
}

// StatusChange asks for a version's status to change; Reason is required when the
// new status is failed.
type StatusChange struct {
	Model   string `json:"model"`
	Version int    `json:"version"`
	Status  Status `json:"status"`
	Reason  string `json:"reason,omitempty"`
}

// Action names a kind of change in the audit trail.
type Action string

// The actions the audit trail records.
const (
	ActionCreateModel   Action = "model.create"
	ActionCreateVersion Action = "version.create"
	ActionSetStatus     Action = "version.status"
	ActionMoveAlias     Action = "alias.move"
	ActionRollbackAlias Action = "alias.rollback"
	ActionSetTraffic    Action = "traffic.set"
	ActionClearTraffic  Action = "traffic.clear"
)

// AuditEntry is one change to the registry and who made it.
type AuditEntry struct {
	// Revision is the registry's revision right after this change.
	Revision  int64     `json:"revision"`
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`
	Action    Action    `json:"action"`
	Model     string    `json:"model"`
	Version   int       `json:"version,omitempty"`
	Alias     string    `json:"alias,omitempty"`

	// Detail says more in words, such as the reason for an alias move.
	Detail string `json:"detail,omitempty"`
}

// AuditQuery selects audit entries, oldest first.
type AuditQuery struct {
	// Model keeps entries of one model; empty keeps all.
	Model string

	// After keeps entries with a revision above it, so that a poller can ask for
	// what changed since the revision it saw last; 0 keeps all.
	After int64

	// Limit caps the number of entries; 0 means no cap.
	Limit int
}
