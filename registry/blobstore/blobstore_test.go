package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/registry"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "artifacts")
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestRoundTrip(t *testing.T) {
	s, dir := openTemp(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{0x08}},
		{"onnx-sized", bytes.Repeat([]byte("weights "), 1<<17)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			digest, err := s.Put(t.Context(), tt.data)
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			if want := digestOf(tt.data); digest != want {
				t.Fatalf("digest %s, want %s", digest, want)
			}

			path := filepath.Join(dir, "sha256", digest[:2], digest)
			onDisk, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(onDisk, tt.data) {
				t.Errorf("file %s: %d bytes (error %v), want the artifact's %d",
					path, len(onDisk), err, len(tt.data))
			}

			got, err := s.Get(t.Context(), digest)
			if err != nil || !bytes.Equal(got, tt.data) {
				t.Errorf("get: %d bytes (error %v), want %d", len(got), err, len(tt.data))
			}
		})
	}

	// Only the artifacts themselves remain: no temporary or sidecar files.
	for _, name := range files(t, dir) {
		if len(filepath.Base(name)) != 64 {
			t.Errorf("stray file %s", name)
		}
	}
}

// files lists the files under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestGetErrors(t *testing.T) {
	s, dir := openTemp(t)
	data := []byte("a small onnx graph")
	digest, err := s.Put(t.Context(), data)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	path := filepath.Join(dir, "sha256", digest[:2], digest)

	tests := []struct {
		name   string
		damage func(t *testing.T)
		digest string
		err    error
	}{
		{"flipped byte", func(t *testing.T) {
			damaged := bytes.Clone(data)
			damaged[3] ^= 0x20
			writeFile(t, path, damaged)
		}, digest, registry.ErrCorrupt},
		{"truncated", func(t *testing.T) {
			writeFile(t, path, data[:5])
		}, digest, registry.ErrCorrupt},
		{"removed", func(t *testing.T) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, digest, registry.ErrNotFound},
		{"never stored", func(*testing.T) {}, digestOf([]byte("other")),
			registry.ErrNotFound},
		{"malformed digest", func(*testing.T) {}, "../../etc/passwd", registry.ErrInvalid},
		{"uppercase digest", func(*testing.T) {}, strings.ToUpper(digest),
			registry.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.damage(t)
			if _, err := s.Get(t.Context(), tt.digest); !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}

			// Putting the same bytes again repairs whatever was damaged.
			if _, err := s.Put(t.Context(), data); err != nil {
				t.Fatalf("put again: %v", err)
			}
			if got, err := s.Get(t.Context(), digest); err != nil ||
				!bytes.Equal(got, data) {
				t.Errorf("after repair: %q, error %v", got, err)
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFileURL(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	digest, err := s.Put(t.Context(), []byte("graph"))
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sha256", digest[:2], digest)); err != nil {
		t.Errorf("artifact not under the URL's folder: %v", err)
	}
}

func TestPutCancelled(t *testing.T) {
	s, dir := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	data := []byte("never written")
	if _, err := s.Put(ctx, data); err == nil {
		t.Fatal("put with a cancelled context succeeded")
	}
	if left := files(t, dir); len(left) != 0 {
		t.Errorf("a cancelled put left %v", left)
	}
}

func BenchmarkGet(b *testing.B) {
	s, err := OpenDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte{1, 2, 3, 4}, 1<<18) // 1 MiB, a small ONNX model
	digest, err := s.Put(b.Context(), data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := s.Get(b.Context(), digest); err != nil {
			b.Fatal(err)
		}
	}
}
