// Package local opens hydrocast's embedded registry: metadata in a SQLite file and
// artifacts in a folder, both under one directory, for a single machine.
package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/blobstore"
	"github.com/hydrocast/hydrocast/registry/sqlite"
)

// The names of the database file and the artifact folder inside the directory.
const (
	DatabaseFile   = "registry.db"
	ArtifactFolder = "artifacts"
)

// Options configure OpenWith.
type Options struct {
	// StaleAfter is how old a pending version or a temporary artifact file must be
	// for the recovery at open to take it for the remains of a crashed upload. Zero
	// means registry.DefaultStaleAfter.
	StaleAfter time.Duration
}

// Open opens the registry kept in dir, creating dir and an empty registry when
// absent: metadata in dir/registry.db, artifacts under dir/artifacts/sha256/. It is
// OpenWith with default options.
func Open(ctx context.Context, dir string) (*registry.Registry, error) {
	return OpenWith(ctx, dir, Options{})
}

// OpenWith opens the registry kept in dir and cleans up after uploads that a crash
// interrupted (see registry.Recover). A transaction that a crash cut short is rolled
// back by SQLite itself.
func OpenWith(ctx context.Context, dir string, opts Options) (*registry.Registry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, DatabaseFile))
	if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	artifacts, err := blobstore.OpenDir(filepath.Join(dir, ArtifactFolder))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open registry: %w", err), store.Close())
	}
	reg := registry.New(store, artifacts)
	if _, err := reg.Recover(ctx, opts.StaleAfter); err != nil {
		return nil, errors.Join(fmt.Errorf("open registry: %w", err), reg.Close())
	}
	return reg, nil
}
