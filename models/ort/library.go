// Package ort runs ONNX models with ONNX Runtime. It wraps
// github.com/yalue/onnxruntime_go with what hydrocast needs: finding and loading the
// one runtime version the project is tested with, sessions tuned for many small
// requests in parallel, and a float32 fast path that reuses its buffers.
//
// Call Init once (it is cheap to call again) before creating sessions.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

const (
	// Version is the ONNX Runtime release scripts/setup-ort.sh fetches. Any 1.24.x
	// release is accepted at run time.
	Version = "1.24.1"

	// EnvLibrary names the environment variable that, when set, gives the path of the
	// ONNX Runtime shared library to load instead of the one setup fetched.
	EnvLibrary = "HYDROCAST_ORT_LIB"

	// soname is the library's file name, which the system loader also searches for.
	soname = "libonnxruntime.so.1"

	// advice tells a person how to get a usable library.
	advice = "run make setup, or set " + EnvLibrary +
		" to the path of a libonnxruntime of version 1.24.x"
)

// requiredSeries is the major.minor version Init accepts, as in "1.24".
var requiredSeries = Version[:strings.LastIndexByte(Version, '.')]

var (
	// ErrLibraryMissing means the ONNX Runtime shared library could not be found or
	// loaded.
	ErrLibraryMissing = errors.New("onnx runtime library not found")

	// ErrWrongVersion means the loaded library is not a 1.24.x release.
	ErrWrongVersion = errors.New("wrong onnx runtime version")

	// ErrNotInitialized means a session was asked for before Init succeeded.
	ErrNotInitialized = errors.New("onnx runtime not initialized")
)

// LibraryPath returns the ONNX Runtime library to load: the value of EnvLibrary if it
// is set; otherwise the first that exists of the library fetched by setup next to the
// running executable (<dir of executable>/../.cache/onnxruntime/<Version>/) and in
// the module this process runs in (found by walking up from the working directory to
// go.mod); otherwise the bare soname, for the system loader to search.
func LibraryPath() string {
	if p := os.Getenv(EnvLibrary); p != "" {
		return p
	}

	fetched := filepath.Join(".cache", "onnxruntime", Version, soname)
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "..", fetched)
		if isFile(p) {
			return p
		}
	}
	if root, ok := moduleRoot(); ok {
		p := filepath.Join(root, fetched)
		if isFile(p) {
			return p
		}
	}
	return soname
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// moduleRoot walks up from the working directory to the first folder holding go.mod.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// loaded holds the process-wide state of the loaded library.
var loaded struct {
	mu      sync.Mutex
	path    string // guarded by mu; the library loaded, "" until Init succeeds
	version string // guarded by mu
}

// Init loads the ONNX Runtime library at path (usually LibraryPath()) and prepares
// it for sessions. It checks the library is a 1.24.x release first, so a wrong
// library fails with ErrWrongVersion and its version instead of a crash, and a missing
// one with ErrLibraryMissing; both errors say how to get the right one. Init may be
// called again: once it has succeeded, later calls with the same path return nil. A
// process can load only one library, so a later call with another path fails.
func Init(path string) error {
	loaded.mu.Lock()
	defer loaded.mu.Unlock()

	if loaded.path != "" {
		if path != loaded.path {
			return fmt.Errorf("load onnx runtime %s: already loaded from %s",
				path, loaded.path)
		}
		return nil
	}

	version, err := checkLibrary(path)
	if err != nil {
		return err
	}
	onnxruntime.SetSharedLibraryPath(path)
	// The runtime reports problems through returned statuses; its own log would only
	// repeat them on stderr, which a library must not write to.
	err = onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelFatal())
	if err != nil {
		return fmt.Errorf("start onnx runtime %s from %s: %w", version, path, err)
	}

	loaded.path, loaded.version = path, version
	return nil
}

// RuntimeVersion returns the version of the loaded ONNX Runtime, or "" before Init
// has succeeded.
func RuntimeVersion() string {
	loaded.mu.Lock()
	defer loaded.mu.Unlock()
	return loaded.version
}

// checkLibrary loads the library at path far enough to read its version, and accepts
// it only if the version is in requiredSeries.
func checkLibrary(path string) (string, error) {
	if strings.ContainsRune(path, filepath.Separator) && !isFile(path) {
		return "", fmt.Errorf("%w at %s: %s", ErrLibraryMissing, path, advice)
	}

	version, err := libraryVersion(path)
	if err != nil {
		return "", fmt.Errorf("%w: load %s: %v; %s", ErrLibraryMissing, path, err, advice)
	}
	if version != requiredSeries && !strings.HasPrefix(version, requiredSeries+".") {
		return "", fmt.Errorf("%w: %s is ONNX Runtime %s, hydrocast needs %s.x; %s",
			ErrWrongVersion, path, version, requiredSeries, advice)
	}
	return version, nil
}

func initialized() bool {
	loaded.mu.Lock()
	defer loaded.mu.Unlock()
	return loaded.path != ""
}
