// Package blobstore keeps model artifacts in a gocloud.dev blob bucket, each under
// the SHA-256 of its content: a local folder for the embedded default, a Google
// Cloud Storage bucket (or any other gocloud.dev driver) beyond one machine.
//
// An artifact with digest abcdef… lives at key sha256/ab/abcdef…; in a local folder
// that is the file <dir>/sha256/ab/abcdef…. Reads check the content against the
// digest, so a damaged file is reported rather than served.
package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"

	"github.com/hydrocast/hydrocast/registry"
)

// Store is a registry.ArtifactStore on a blob bucket. It is safe for concurrent use.
type Store struct {
	bucket *blob.Bucket

	// dir is the bucket's root folder when the bucket is a local folder, whose
	// directories Put syncs after a rename; empty otherwise.
	dir string
}

var _ registry.ArtifactStore = (*Store)(nil)

// New returns a store on an open bucket, which Close closes. A bucket on a local
// folder should come from OpenDir instead, which makes writes durable.
func New(bucket *blob.Bucket) *Store {
	return &Store{bucket: bucket}
}

// OpenDir opens a store in a local folder, creating the folder when absent. Files
// are written beside their final name, synced to disk, then renamed into place,
// so that a crash leaves either the whole artifact or none of it.
func OpenDir(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open artifact folder: %w", err)
	}
	bucket, err := fileblob.OpenBucket(abs, &fileblob.Options{
		CreateDir: true,
		// The temporary file must be on the same file system for the rename.
		NoTempDir: true,
		// The digest is all the metadata an artifact needs; no sidecar files.
		Metadata:    fileblob.MetadataDontWrite,
		DirFileMode: 0o755,
	})
	if err != nil {
		return nil, fmt.Errorf("open artifact folder %s: %w", abs, err)
	}
	return &Store{bucket: bucket, dir: abs}, nil
}

// Open opens a store from a bucket URL, such as "gs://bucket/prefix/" or
// "file:///var/lib/hydrocast/artifacts". A file URL goes through OpenDir; other
// schemes need their gocloud.dev driver linked into the binary (for Cloud Storage,
// a blank import of gocloud.dev/blob/gcsblob).
func Open(ctx context.Context, bucketURL string) (*Store, error) {
	u, err := url.Parse(bucketURL)
	if err != nil {
		return nil, fmt.Errorf("open artifact bucket: %w", err)
	}
	if u.Scheme == "file" {
		return OpenDir(u.Path)
	}
	bucket, err := blob.OpenBucket(ctx, bucketURL)
	if err != nil {
		return nil, fmt.Errorf("open artifact bucket %s: %w", u.Redacted(), err)
	}
	return New(bucket), nil
}

// Key returns the bucket key of the artifact with the given hex SHA-256 digest, which
// must pass registry.CheckDigest.
func Key(digest string) string {
	return "sha256/" + digest[:2] + "/" + digest
}

// Put stores data under its SHA-256 digest and returns the digest. Storing the same
// bytes again rewrites them, which also repairs a damaged copy.
func (s *Store) Put(ctx context.Context, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	if err := s.write(ctx, Key(digest), data); err != nil {
		return "", fmt.Errorf("put artifact %s: %w", digest, err)
	}
	return digest, nil
}

func (s *Store) write(ctx context.Context, key string, data []byte) error {
	// Cancelling the writer's context before Close is how gocloud.dev aborts a
	// write, so a failure here leaves nothing under key.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// A crash between create and rename leaves key.<time>.tmp beside the artifact;
	// CleanTemp, which registry.Recover calls, removes it later.
	var file *os.File
	w, err := s.bucket.NewWriter(ctx, key, &blob.WriterOptions{
		ContentType: "application/octet-stream",
		// On a local folder this hands over the temporary file, so that it can
		// be synced before the rename; other drivers leave file nil.
		BeforeWrite: func(as func(any) bool) error {
			as(&file)
			return nil
		},
	})
	if err != nil {
		return err
	}

	_, err = w.Write(data)
	if err == nil && file != nil {
		err = file.Sync()
	}
	if err != nil {
		cancel()
		return errors.Join(err, w.Close())
	}
	if err := w.Close(); err != nil {
		return err
	}

	if s.dir != "" {
		return s.syncDirs(key)
	}
	return nil
}

// syncDirs syncs each folder from the artifact's up to the root, so that the
// rename and any folder created for it survive a crash.
func (s *Store) syncDirs(key string) error {
	dir := filepath.Dir(filepath.Join(s.dir, filepath.FromSlash(key)))
	for {
		if err := syncDir(dir); err != nil {
			return err
		}
		if dir == s.dir || !strings.HasPrefix(dir, s.dir) {
			return nil
		}
		dir = filepath.Dir(dir)
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}

// Get returns the artifact stored under digest, after checking its content against
// the digest: an error wrapping registry.ErrNotFound when it is absent and
// registry.ErrCorrupt when it no longer matches.
func (s *Store) Get(ctx context.Context, digest string) ([]byte, error) {
	if err := registry.CheckDigest(digest); err != nil {
		return nil, err
	}
	data, err := s.bucket.ReadAll(ctx, Key(digest))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("get artifact %s: %w", digest, registry.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get artifact %s: %w", digest, err)
	}

	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != digest {
		return nil, fmt.Errorf("get artifact %s: content hashes to %s: %w",
			digest, got, registry.ErrCorrupt)
	}
	return data, nil
}

// CleanTemp removes, from a local folder, the temporary files of writes that never
// finished (named <key>.<hex time>.tmp by the fileblob driver) last modified before
// cutoff, and returns how many it removed. On other buckets it does nothing.
func (s *Store) CleanTemp(cutoff time.Time) (int, error) {
	if s.dir == "" {
		return 0, nil
	}
	removed := 0
	err := filepath.WalkDir(filepath.Join(s.dir, "sha256"), func(path string,
		d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".tmp") {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) { // finished or removed meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		if !info.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("clean temporary artifact files: %w", err)
	}
	return removed, nil
}

// Close closes the bucket.
func (s *Store) Close() error {
	return s.bucket.Close()
}
