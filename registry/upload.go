package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxUpload is the largest file an Uploader accepts when its options leave
// the size at zero: 512 MiB.
const DefaultMaxUpload = 512 << 20

// Checker checks an uploaded model file before an Uploader publishes it.
// registry/upload implements it for ONNX models.
type Checker interface {
	// Prepare runs the quick checks of an upload against its declared signature
	// and returns the artifact to store: the file itself, or a self-contained one
	// built from it. An unusable upload gives an error wrapping ErrInvalid.
	Prepare(ctx context.Context, upload []byte, sig Signature) ([]byte, error)

	// Trial loads and runs the artifact in isolation. A model that fails gives an
	// error wrapping ErrInvalid; other errors mean the trial itself failed.
	Trial(ctx context.Context, artifact []byte, sig Signature) error
}

// UploaderOptions configure an Uploader.
type UploaderOptions struct {
	// MaxBytes caps the size of one upload in bytes. Zero means DefaultMaxUpload.
	MaxBytes int64
}

// Uploader publishes model files that arrive in chunks, as over a streaming RPC:
// it checks the file's SHA-256, has a Checker check the file, records the version
// as pending while the slow trial runs, then marks it ready or failed with the
// reason. It is safe for concurrent use; each Upload is not.
type Uploader struct {
	reg      *Registry
	check    Checker
	maxBytes int64
}

// NewUploader returns an Uploader that publishes into r after check passes.
func NewUploader(r *Registry, check Checker, opts UploaderOptions) *Uploader {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxUpload
	}
	return &Uploader{reg: r, check: check, maxBytes: opts.MaxBytes}
}

// Upload is one file being received. Write its chunks in order, then call Finish.
type Upload struct {
	u   *Uploader
	req PublishRequest

	// TODO: the file is held in memory until Finish, up to MaxBytes per upload in
	// flight; spooling to disk would bound memory but every checker and artifact
	// store takes the whole file as bytes today.
	buf  bytes.Buffer
	hash hash.Hash
	err  error // sticky: the first failed Write
}

// Begin starts an upload of a new version of req.Model; req.Artifact must be empty,
// since the file arrives through Write. The request's metadata and the context's
// principal are checked now, so that a doomed upload fails before its first chunk.
func (u *Uploader) Begin(ctx context.Context, req PublishRequest) (*Upload, error) {
	if len(req.Artifact) > 0 {
		return nil, fmt.Errorf("upload %s: %w", req.Model,
			invalid("the file comes through Write, not in the request"))
	}
	if _, err := PrincipalFrom(ctx); err != nil {
		return nil, fmt.Errorf("upload %s: %w", req.Model, err)
	}
	nv := newVersion(req, StatusReady, strings.Repeat("0", 64), 0)
	if err := nv.Check(); err != nil {
		return nil, fmt.Errorf("upload %s: %w", req.Model, err)
	}
	return &Upload{u: u, req: req, hash: sha256.New()}, nil
}

// Write appends a chunk of the file. It fails with an error wrapping ErrInvalid
// once the file grows past the size cap, and keeps failing after.
func (up *Upload) Write(chunk []byte) (int, error) {
	if up.err != nil {
		return 0, up.err
	}
	if int64(up.buf.Len())+int64(len(chunk)) > up.u.maxBytes {
		up.err = fmt.Errorf("upload %s: %w", up.req.Model,
			invalid("file larger than %d bytes", up.u.maxBytes))
		return 0, up.err
	}
	up.buf.Write(chunk)
	up.hash.Write(chunk)
	return len(chunk), nil
}

// Finish ends the upload. It compares the file with digest, the hex SHA-256 the
// sender computed (ErrCorrupt when they differ), has the Checker prepare it
// (ErrInvalid when unusable; nothing is recorded then), stores the artifact and
// records a pending version, then runs the trial. A trial that passes makes the
// version ready and moves the requested alias to it; one that fails marks it
// failed with the reason and returns the failed version with an error wrapping
// ErrInvalid.
func (up *Upload) Finish(ctx context.Context, digest string) (Version, error) {
	model := up.req.Model
	if up.err != nil {
		return Version{}, up.err
	}
	if got := hex.EncodeToString(up.hash.Sum(nil)); !strings.EqualFold(got, digest) {
		return Version{}, fmt.Errorf("upload %s: received %d bytes hashing to %s, "+
			"sender says %q: %w", model, up.buf.Len(), got, digest, ErrCorrupt)
	}

	artifact, err := up.u.check.Prepare(ctx, up.buf.Bytes(), up.req.Signature)
	if err != nil {
		return Version{}, fmt.Errorf("upload %s: %w", model, err)
	}
	up.buf = bytes.Buffer{} // only the artifact is needed from here on

	v, err := up.u.createPending(ctx, up.req, artifact)
	if err != nil {
		return Version{}, fmt.Errorf("upload %s: %w", model, err)
	}

	if err := up.u.check.Trial(ctx, artifact, up.req.Signature); err != nil {
		failed, markErr := up.u.markFailed(ctx, v, err)
		if markErr != nil {
			return v, fmt.Errorf("upload %s version %d: %w", model, v.Number,
				errors.Join(err, markErr))
		}
		return failed, fmt.Errorf("upload %s version %d: %w", model, v.Number, err)
	}
	return up.u.markReady(ctx, v, up.req.Promote)
}

// createPending stores the artifact and records a pending version for it.
func (u *Uploader) createPending(ctx context.Context, req PublishRequest,
	artifact []byte) (Version, error) {
	sum := sha256.Sum256(artifact)
	nv := newVersion(req, StatusPending, hex.EncodeToString(sum[:]), int64(len(artifact)))
	nv.Promote = nil // a pending version cannot be aliased; markReady moves it

	digest, err := u.reg.artifacts.Put(ctx, artifact)
	if err != nil {
		return Version{}, fmt.Errorf("store artifact: %w", err)
	}
	if digest != nv.Version.Digest {
		return Version{}, fmt.Errorf("artifact store returned digest %s for %s",
			digest, nv.Version.Digest)
	}
	return u.reg.store.CreateVersion(ctx, nv)
}

// markFailed records why the trial failed. It runs even when ctx was cancelled,
// which is a common way for a trial to fail, so that the version is not left
// pending.
func (u *Uploader) markFailed(ctx context.Context, v Version, cause error) (Version, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return u.reg.store.SetStatus(ctx, StatusChange{Model: v.Model, Version: v.Number,
		Status: StatusFailed, Reason: reasonText(cause.Error())})
}

// markReady makes the version ready, then moves the alias the request asked for.
// The two steps are separate transactions: when the move fails, for example on an
// Expect mismatch, the version stays ready without the alias.
func (u *Uploader) markReady(ctx context.Context, v Version, p *Promotion) (Version, error) {
	ready, err := u.reg.store.SetStatus(ctx, StatusChange{Model: v.Model,
		Version: v.Number, Status: StatusReady})
	if err != nil {
		return v, fmt.Errorf("upload %s version %d: %w", v.Model, v.Number, err)
	}
	if p == nil {
		return ready, nil
	}
	_, err = u.reg.store.MoveAlias(ctx, AliasMove{Model: v.Model, Alias: p.Alias,
		Version: v.Number, Expect: p.Expect, Reason: p.Reason})
	if err != nil {
		return ready, fmt.Errorf("upload %s version %d: %w", v.Model, v.Number, err)
	}
	return u.reg.store.Version(ctx, v.Model, v.Number)
}

// newVersion builds the version a publish request describes.
func newVersion(req PublishRequest, status Status, digest string, size int64) NewVersion {
	return NewVersion{
		Version: Version{
			Model:       req.Model,
			Status:      status,
			Description: req.Description,
			Signature:   req.Signature,
			Tags:        req.Tags,
			Card:        req.Card,
			Metrics:     req.Metrics,
			Lineage:     req.Lineage,
			Digest:      digest,
			Size:        size,
			Reference:   req.Reference,
		},
		ModelDescription: req.ModelDescription,
		Promote:          req.Promote,
	}
}

// reasonText fits an error message into a status reason: control characters
// become spaces and the text is cut, at a character boundary, to the reason limit.
func reasonText(msg string) string {
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(msg, "?"))
	if len(msg) <= maxReason {
		return msg
	}
	cut := maxReason - len("…")
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
