package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
	"github.com/hydrocast/hydrocast/registry/registrytest"
)

// fakeChecker prepares an upload by prefixing it, so that tests can tell the
// stored artifact from the upload, and fails where told to.
type fakeChecker struct {
	prepareErr error
	trial      func(ctx context.Context, artifact []byte) error
}

func (f fakeChecker) Prepare(_ context.Context, upload []byte,
	_ registry.Signature) ([]byte, error) {
	if f.prepareErr != nil {
		return nil, f.prepareErr
	}
	return append([]byte("prepared:"), upload...), nil
}

func (f fakeChecker) Trial(ctx context.Context, artifact []byte, _ registry.Signature) error {
	if f.trial == nil {
		return nil
	}
	return f.trial(ctx, artifact)
}

func openRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	r, err := local.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func uploadRequest() registry.PublishRequest {
	nv := registrytest.NewVersion("sweat-rate", 1)
	return registry.PublishRequest{Model: "sweat-rate", Signature: nv.Version.Signature,
		Description: "uploaded", Promote: &registry.Promotion{Alias: "staging"}}
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// send uploads file in chunks of three bytes and finishes with sum.
func send(t *testing.T, u *registry.Uploader, req registry.PublishRequest, file []byte,
	sum string) (registry.Version, error) {
	t.Helper()
	up, err := u.Begin(registrytest.Context(t), req)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	for chunk := range slices.Chunk(file, 3) {
		if _, err := up.Write(chunk); err != nil {
			return registry.Version{}, err
		}
	}
	return up.Finish(registrytest.Context(t), sum)
}

func TestUploadPublishes(t *testing.T) {
	r := openRegistry(t)
	file := []byte("an onnx file sent in chunks")
	var during registry.Status
	check := fakeChecker{trial: func(ctx context.Context, artifact []byte) error {
		v, err := r.Version(ctx, "sweat-rate", 1)
		during = v.Status
		return err
	}}

	v, err := send(t, registry.NewUploader(r, check, registry.UploaderOptions{}),
		uploadRequest(), file, digest(file))
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if during != registry.StatusPending {
		t.Errorf("version was %q during the trial, want pending", during)
	}
	if v.Status != registry.StatusReady || !slices.Equal(v.Aliases, []string{"staging"}) {
		t.Errorf("version %d is %s with aliases %v, want ready and staging", v.Number,
			v.Status, v.Aliases)
	}
	stored, err := r.Artifact(t.Context(), v)
	if want := append([]byte("prepared:"), file...); err != nil || !bytes.Equal(stored, want) {
		t.Errorf("stored artifact %q (error %v), want %q", stored, err, want)
	}

	entries, err := r.Audit(t.Context(), registry.AuditQuery{Model: "sweat-rate"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, string(e.Action))
	}
	want := []string{"model.create", "version.create", "version.status", "alias.move"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit %v, want %v", actions, want)
	}
}

func TestUploadRefused(t *testing.T) {
	file := []byte("an onnx file")
	prepareErr := fmt.Errorf("%w: not an ONNX model", registry.ErrInvalid)
	tests := []struct {
		name  string
		check fakeChecker
		limit int64
		sum   string
		err   error
	}{
		{"digest mismatch", fakeChecker{}, 0, digest([]byte("another file")),
			registry.ErrCorrupt},
		{"malformed digest", fakeChecker{}, 0, "sha256", registry.ErrCorrupt},
		{"over the size cap", fakeChecker{}, 8, digest(file), registry.ErrInvalid},
		{"checker refuses", fakeChecker{prepareErr: prepareErr}, 0, digest(file),
			registry.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := openRegistry(t)
			u := registry.NewUploader(r, tt.check, registry.UploaderOptions{MaxBytes: tt.limit})
			if _, err := send(t, u, uploadRequest(), file, tt.sum); !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if rev, err := r.Revision(t.Context()); err != nil || rev != 0 {
				t.Errorf("registry at revision %d (error %v) after a refused upload, "+
					"want nothing recorded", rev, err)
			}
		})
	}
}

func TestUploadTrialFails(t *testing.T) {
	file := []byte("an onnx file")
	tests := []struct {
		name   string
		trial  func(ctx context.Context, artifact []byte) error
		cancel bool
		reason string
	}{
		{"model fails", func(context.Context, []byte) error {
			return fmt.Errorf("%w: trial run: model failed to load:\nbad_alloc",
				registry.ErrInvalid)
		}, false, "trial run: model failed to load: bad_alloc"},
		{"upload cancelled", func(ctx context.Context, _ []byte) error {
			<-ctx.Done()
			return ctx.Err()
		}, true, "context canceled"},
		{"long reason", func(context.Context, []byte) error {
			return errors.New(strings.Repeat("x", 5000))
		}, false, strings.Repeat("x", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := openRegistry(t)
			ctx, cancel := context.WithCancel(registrytest.Context(t))
			defer cancel()
			trial := tt.trial
			if tt.cancel {
				trial = func(c context.Context, a []byte) error {
					cancel()
					return tt.trial(c, a)
				}
			}
			u := registry.NewUploader(r, fakeChecker{trial: trial}, registry.UploaderOptions{})
			up, err := u.Begin(ctx, uploadRequest())
			if err != nil {
				t.Fatal(err)
			}
			up.Write(file)
			v, err := up.Finish(ctx, digest(file))
			if err == nil {
				t.Fatal("a failed trial published the version")
			}

			stored, err := r.Version(t.Context(), "sweat-rate", 1)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Status != registry.StatusFailed || v.Status != registry.StatusFailed ||
				!strings.Contains(stored.StatusReason, tt.reason) {
				t.Errorf("version is %s (returned %s) because %q, want failed because %q",
					stored.Status, v.Status, stored.StatusReason, tt.reason)
			}
			if _, err := r.Resolve(t.Context(), "sweat-rate", "staging"); !errors.Is(err,
				registry.ErrNotFound) {
				t.Errorf("staging resolves (error %v) after a failed upload", err)
			}
		})
	}
}

func TestUploadAliasConflict(t *testing.T) {
	r := openRegistry(t)
	u := registry.NewUploader(r, fakeChecker{}, registry.UploaderOptions{})
	first := []byte("first")
	if _, err := send(t, u, uploadRequest(), first, digest(first)); err != nil {
		t.Fatal(err)
	}

	req := uploadRequest()
	req.Promote.Expect = 7
	second := []byte("second")
	v, err := send(t, u, req, second, digest(second))
	if !errors.Is(err, registry.ErrConflict) {
		t.Fatalf("error %v, want ErrConflict", err)
	}
	if v.Number != 2 || v.Status != registry.StatusReady {
		t.Errorf("version %d is %s, want 2 ready without the alias", v.Number, v.Status)
	}
	if got, err := r.Resolve(t.Context(), "sweat-rate", "staging"); err != nil ||
		got.Number != 1 {
		t.Errorf("staging is %d (error %v), want still 1", got.Number, err)
	}
}

func TestUploadBeginChecks(t *testing.T) {
	u := registry.NewUploader(openRegistry(t), fakeChecker{}, registry.UploaderOptions{})
	tests := []struct {
		name   string
		ctx    context.Context
		change func(req *registry.PublishRequest)
	}{
		{"no principal", t.Context(), func(*registry.PublishRequest) {}},
		{"artifact in the request", registrytest.Context(t), func(req *registry.PublishRequest) {
			req.Artifact = []byte("onnx")
		}},
		{"bad model name", registrytest.Context(t), func(req *registry.PublishRequest) {
			req.Model = "Sweat Rate"
		}},
		{"bad alias", registrytest.Context(t), func(req *registry.PublishRequest) {
			req.Promote.Alias = "7"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := uploadRequest()
			tt.change(&req)
			if _, err := u.Begin(tt.ctx, req); !errors.Is(err, registry.ErrInvalid) {
				t.Errorf("error %v, want ErrInvalid", err)
			}
		})
	}
}
