package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/blobstore"
	"github.com/hydrocast/hydrocast/registry/registrytest"
)

func open(t *testing.T, dir string) *registry.Registry {
	t.Helper()
	r, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("open registry: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func request(model string, seed int) registry.PublishRequest {
	nv := registrytest.NewVersion(model, int64(seed))
	v := nv.Version
	return registry.PublishRequest{
		Model:            model,
		ModelDescription: nv.ModelDescription,
		Description:      v.Description,
		Signature:        v.Signature,
		Tags:             v.Tags,
		Card:             v.Card,
		Metrics:          v.Metrics,
		Lineage:          v.Lineage,
		Reference:        v.Reference,
		Artifact:         fmt.Appendf(nil, "ONNX graph of %s, seed %d", model, seed),
	}
}

func publish(t *testing.T, r *registry.Registry, req registry.PublishRequest) registry.Version {
	t.Helper()
	v, err := r.Publish(registrytest.Context(t), req)
	if err != nil {
		t.Fatalf("publish %s: %v", req.Model, err)
	}
	return v
}

func artifactPath(dir string, v registry.Version) string {
	return filepath.Join(dir, ArtifactFolder, filepath.FromSlash(blobstore.Key(v.Digest)))
}

func TestPublishResolveArtifact(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir)
	first := request("sweat-rate", 1)
	first.Promote = &registry.Promotion{Alias: "production", Reason: "baseline"}
	publish(t, r, first)
	second := request("sweat-rate", 2)
	second.Promote = &registry.Promotion{Alias: "staging"}
	publish(t, r, second)

	tests := []struct {
		ref     string
		version int
		want    []byte
	}{
		{"production", 1, first.Artifact},
		{"staging", 2, second.Artifact},
		{"1", 1, first.Artifact},
		{"2", 2, second.Artifact},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			v, err := r.Resolve(t.Context(), "sweat-rate", tt.ref)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if v.Number != tt.version || v.Status != registry.StatusReady {
				t.Errorf("resolved version %d %s, want %d ready", v.Number, v.Status,
					tt.version)
			}
			got, err := r.Artifact(t.Context(), v)
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("artifact %q (error %v), want %q", got, err, tt.want)
			}
		})
	}

	if _, err := os.Stat(filepath.Join(dir, DatabaseFile)); err != nil {
		t.Errorf("database file: %v", err)
	}
	v, _ := r.Resolve(t.Context(), "sweat-rate", "production")
	if _, err := os.Stat(artifactPath(dir, v)); err != nil {
		t.Errorf("artifact not at sha256/<ab>/<digest>: %v", err)
	}
}

func TestCorruptArtifact(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir)
	req := request("sweat-rate", 1)
	v := publish(t, r, req)
	path := artifactPath(dir, v)

	tests := []struct {
		name   string
		damage func() error
		err    error
	}{
		{"flipped bit", func() error {
			data := bytes.Clone(req.Artifact)
			data[0] ^= 1
			return os.WriteFile(path, data, 0o644)
		}, registry.ErrCorrupt},
		{"appended bytes", func() error {
			return os.WriteFile(path, append(bytes.Clone(req.Artifact), 0), 0o644)
		}, registry.ErrCorrupt},
		{"deleted", func() error { return os.Remove(path) }, registry.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.damage(); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Artifact(t.Context(), v); !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
		})
	}

	t.Run("size disagrees with the metadata", func(t *testing.T) {
		publish(t, r, req) // restores the file
		wrong := v
		wrong.Size++
		if _, err := r.Artifact(t.Context(), wrong); !errors.Is(err, registry.ErrCorrupt) {
			t.Errorf("error %v, want ErrCorrupt", err)
		}
	})
}

func TestFailedPublishLeavesNoVersion(t *testing.T) {
	r := open(t, t.TempDir())
	first := request("sweat-rate", 1)
	first.Promote = &registry.Promotion{Alias: "production"}
	publish(t, r, first)
	before, err := r.Revision(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		change func(req *registry.PublishRequest)
		err    error
	}{
		{"alias moved meanwhile", func(req *registry.PublishRequest) {
			req.Promote = &registry.Promotion{Alias: "production", Expect: 7}
		}, registry.ErrConflict},
		{"invalid metric", func(req *registry.PublishRequest) {
			req.Metrics = map[string]float64{"": 1}
		}, registry.ErrInvalid},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request("sweat-rate", 10+i)
			tt.change(&req)
			if _, err := r.Publish(registrytest.Context(t), req); !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
		})
	}

	versions, err := r.Versions(t.Context(), "sweat-rate")
	if err != nil || len(versions) != 1 {
		t.Errorf("%d versions (error %v) after failed publishes, want 1", len(versions), err)
	}
	if after, _ := r.Revision(t.Context()); after != before {
		t.Errorf("revision moved from %d to %d", before, after)
	}
	if v, err := r.Resolve(t.Context(), "sweat-rate", "production"); err != nil ||
		v.Number != 1 {
		t.Errorf("production is %d (error %v), want 1", v.Number, err)
	}
}

// TestConcurrentPublish publishes from two registries on one folder at once, as a
// trainer and the CLI would, and checks that no version number is handed out twice.
func TestConcurrentPublish(t *testing.T) {
	dir := t.TempDir()
	registries := []*registry.Registry{open(t, dir), open(t, dir)}
	const publishers, each = 6, 4

	var mu sync.Mutex
	var numbers []int
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			r := registries[p%len(registries)]
			for i := range each {
				v, err := r.Publish(registrytest.Context(t), request("sweat-rate",
					p*each+i))
				if err != nil {
					t.Errorf("publisher %d: %v", p, err)
					return
				}
				mu.Lock()
				numbers = append(numbers, v.Number)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	slices.Sort(numbers)
	want := make([]int, publishers*each)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(numbers, want) {
		t.Errorf("numbers %v, want 1 to %d once each", numbers, len(want))
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var published []registry.Version
	for seed := range 3 {
		req := request("sweat-rate", seed)
		req.Promote = &registry.Promotion{Alias: "production"}
		published = append(published, publish(t, r, req))
	}
	if _, err := r.Rollback(registrytest.Context(t), "sweat-rate", "production",
		"latency regression"); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	revision, err := r.Revision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	r = open(t, dir)
	if got, err := r.Revision(t.Context()); err != nil || got != revision {
		t.Errorf("revision %d (error %v), want %d", got, err, revision)
	}
	v, err := r.Resolve(t.Context(), "sweat-rate", "production")
	if err != nil || v.Number != 2 {
		t.Fatalf("production is %d (error %v), want 2 after the rollback", v.Number, err)
	}
	history, err := r.History(t.Context(), "sweat-rate", "production")
	if err != nil || len(history) != 4 || !history[0].Rollback ||
		history[0].Reason != "latency regression" {
		t.Errorf("history %+v (error %v), want 3 moves and the rollback first", history, err)
	}
	for _, want := range published {
		got, err := r.Artifact(t.Context(), want)
		wantBytes := request("sweat-rate", int(want.Lineage.Seed)).Artifact
		if err != nil || !bytes.Equal(got, wantBytes) {
			t.Errorf("artifact of version %d after reopening: error %v", want.Number, err)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	r, err := Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	req := request("sweat-rate", 1)
	req.Promote = &registry.Promotion{Alias: "production"}
	if _, err := r.Publish(registrytest.Context(b), req); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := r.Resolve(b.Context(), "sweat-rate", "production"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRevision(b *testing.B) {
	r, err := Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for b.Loop() {
		if _, err := r.Revision(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
