// Package engine opens a registry from URLs, choosing the metadata engine by the
// scheme of one and the artifact store by the scheme of the other, so that the same
// binary runs on one machine (SQLite and a folder) or beyond it (PostgreSQL and
// Google Cloud Storage). It links the Cloud Storage driver for gs:// URLs.
package engine

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	_ "gocloud.dev/blob/gcsblob" // registers gs:// bucket URLs

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/blobstore"
	"github.com/hydrocast/hydrocast/registry/local"
	"github.com/hydrocast/hydrocast/registry/postgres"
	"github.com/hydrocast/hydrocast/registry/sqlite"
)

// ArtifactsParam is the query parameter of a registry URL that names the artifact
// store, as in "postgres://db/hydrocast?artifacts=gs://bucket/models".
const ArtifactsParam = "artifacts"

// Open opens the registry whose metadata is at metaURL and whose artifacts are at
// artifactsURL.
//
// metaURL is "sqlite://PATH" for a SQLite file (sqlite:///abs/registry.db, or
// sqlite://rel/registry.db relative to the working directory) or a
// "postgres://…" or "postgresql://…" connection URL. artifactsURL is a bucket URL:
// "file:///abs/folder" or "gs://bucket/prefix".
func Open(ctx context.Context, metaURL, artifactsURL string) (*registry.Registry, error) {
	store, err := openStore(ctx, metaURL)
	if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	artifacts, err := blobstore.Open(ctx, artifactsURL)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open registry: %w", err), store.Close())
	}
	return registry.New(store, artifacts), nil
}

func openStore(ctx context.Context, metaURL string) (registry.Store, error) {
	u, err := url.Parse(metaURL)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata URL is not a URL", registry.ErrInvalid)
	}
	switch u.Scheme {
	case "sqlite":
		return sqlite.Open(ctx, sqlitePath(u))
	case "postgres", "postgresql":
		return postgres.Open(ctx, metaURL)
	}
	return nil, fmt.Errorf("%w: metadata URL scheme %q: want sqlite, postgres or postgresql",
		registry.ErrInvalid, u.Scheme)
}

// sqlitePath returns the file a sqlite:// URL names; in "sqlite://rel/x.db" the
// first element parses as the host.
func sqlitePath(u *url.URL) string {
	return filepath.FromSlash(u.Host + u.Path)
}

// OpenURL opens the registry named by one URL, the form a command-line flag takes:
//
//   - a folder path, or "file:///folder": the embedded registry in that folder, as
//     registry/local opens it;
//   - "sqlite://PATH": that SQLite file, with artifacts in the "artifacts" folder
//     beside it unless the artifacts parameter names a bucket;
//   - "postgres://…" or "postgresql://…": that database, with artifacts in the
//     bucket the artifacts parameter names, which is required.
//
// The artifacts parameter is removed before the rest reaches the database driver.
func OpenURL(ctx context.Context, registryURL string) (*registry.Registry, error) {
	if !strings.Contains(registryURL, "://") {
		return local.Open(ctx, registryURL)
	}
	u, err := url.Parse(registryURL)
	if err != nil {
		return nil, fmt.Errorf("open registry: %w: registry URL is not a URL",
			registry.ErrInvalid)
	}

	query := u.Query()
	artifacts := query.Get(ArtifactsParam)
	query.Del(ArtifactsParam)
	u.RawQuery = query.Encode()

	switch u.Scheme {
	case "file":
		if artifacts != "" {
			return nil, fmt.Errorf("open registry: %w: a file:// registry keeps its "+
				"artifacts in its folder", registry.ErrInvalid)
		}
		return local.Open(ctx, filepath.FromSlash(u.Path))
	case "sqlite":
		if artifacts == "" {
			dir := filepath.Dir(sqlitePath(u))
			abs, err := filepath.Abs(filepath.Join(dir, local.ArtifactFolder))
			if err != nil {
				return nil, fmt.Errorf("open registry: %w", err)
			}
			artifacts = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
		}
	case "postgres", "postgresql":
		if artifacts == "" {
			return nil, fmt.Errorf("open registry: %w: a PostgreSQL registry URL needs "+
				"?%s=BUCKET_URL for its artifacts", registry.ErrInvalid, ArtifactsParam)
		}
	default:
		return nil, fmt.Errorf("open registry: %w: URL scheme %q: want file, sqlite, "+
			"postgres or postgresql", registry.ErrInvalid, u.Scheme)
	}
	return Open(ctx, u.String(), artifacts)
}
