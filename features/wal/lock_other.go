//go:build !unix

package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrLocked is returned by Open when another process has the directory open.
var ErrLocked = errors.New("wal directory in use by another process")

// lockDir opens the directory's lock file.
//
// TODO: outside Unix nothing stops two processes from opening one directory,
// which would interleave their segments; Windows needs LockFileEx here.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	return f, nil
}
