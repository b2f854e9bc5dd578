// Package local opens hydrocast's embedded registry: metadata in a SQLite file and
// artifacts in a folder, both under one directory, for a single machine.
package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/blobstore"
	"github.com/hydrocast/hydrocast/registry/sqlite"
)

// The names of the database file and the artifact folder inside the directory.
const (
	DatabaseFile   = "registry.db"
	ArtifactFolder = "artifacts"
)

// Open opens the registry kept in dir, creating dir and an empty registry when
// absent: metadata in dir/registry.db, artifacts under dir/artifacts/sha256/.
func Open(ctx context.Context, dir string) (*registry.Registry, error) {
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
	return registry.New(store, artifacts), nil
}
