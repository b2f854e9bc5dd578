package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
	"github.com/hydrocast/hydrocast/registry/registrytest"
)

// publishAndRead publishes one version into r and reads its artifact back.
func publishAndRead(t *testing.T, r *registry.Registry) {
	t.Helper()
	nv := registrytest.NewVersion("sweat-rate", 1)
	req := registry.PublishRequest{Model: "sweat-rate", Signature: nv.Version.Signature,
		Artifact: []byte("onnx bytes")}
	v, err := r.Publish(registrytest.Context(t), req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	data, err := r.Artifact(t.Context(), v)
	if err != nil || string(data) != "onnx bytes" {
		t.Fatalf("artifact %q (error %v), want the published bytes", data, err)
	}
}

func TestOpenURL(t *testing.T) {
	tests := []struct {
		name string
		url  func(dir string) string
		// files must exist in dir after a publish.
		files []string
	}{
		{"folder path", func(dir string) string { return dir },
			[]string{local.DatabaseFile, local.ArtifactFolder}},
		{"file URL", func(dir string) string { return "file://" + filepath.ToSlash(dir) },
			[]string{local.DatabaseFile, local.ArtifactFolder}},
		{"sqlite URL", func(dir string) string {
			return "sqlite://" + filepath.ToSlash(filepath.Join(dir, "meta.db"))
		}, []string{"meta.db", local.ArtifactFolder}},
		{"sqlite URL with artifact bucket", func(dir string) string {
			return "sqlite://" + filepath.ToSlash(filepath.Join(dir, "meta.db")) +
				"?artifacts=file://" + filepath.ToSlash(filepath.Join(dir, "blobs"))
		}, []string{"meta.db", "blobs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := OpenURL(t.Context(), tt.url(dir))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer r.Close()
			publishAndRead(t, r)
			for _, f := range tt.files {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("%s not created: %v", f, err)
				}
			}
		})
	}
}

func TestOpenURLRefuses(t *testing.T) {
	tests := []struct{ name, url string }{
		{"postgres without artifacts", "postgres://postgres@127.0.0.1/test"},
		{"unknown scheme", "mysql://db/registry"},
		{"file registry with artifacts", "file:///tmp/x?artifacts=gs://bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := OpenURL(t.Context(), tt.url)
			if err == nil {
				r.Close()
			}
			if !errors.Is(err, registry.ErrInvalid) {
				t.Errorf("error %v, want ErrInvalid", err)
			}
		})
	}
}

// TestCloudStorageLinked opens a gs:// bucket without credentials, which needs the
// driver linked but no network until the first read or write.
func TestCloudStorageLinked(t *testing.T) {
	meta := "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "registry.db"))
	r, err := Open(t.Context(), meta, "gs://hydrocast-artifacts/models?anonymous=true")
	if err != nil {
		t.Fatalf("open with a gs:// artifact store: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
