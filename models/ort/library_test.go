package ort

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLibraryPath(t *testing.T) {
	fetched := filepath.Join(".cache", "onnxruntime", Version, soname)
	cases := []struct {
		name  string
		env   string
		cache bool // whether the module holds a fetched library
		want  func(root string) string
	}{
		{"environment wins", "/opt/ort/libonnxruntime.so.1", true,
			func(string) string { return "/opt/ort/libonnxruntime.so.1" }},
		{"fetched library in the module", "", true,
			func(root string) string { return filepath.Join(root, fetched) }},
		{"system search", "", false, func(string) string { return soname }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(root, "go.mod"), "module example.com/m\n")
			if c.cache {
				writeFile(t, filepath.Join(root, fetched), "")
			}
			sub := filepath.Join(root, "a", "b")
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Chdir(sub)
			t.Setenv(EnvLibrary, c.env)

			if got, want := LibraryPath(), c.want(root); got != want {
				t.Errorf("LibraryPath() = %q, want %q", got, want)
			}
		})
	}
}

func TestCheckLibrary(t *testing.T) {
	real := LibraryPath()
	cases := []struct {
		name     string
		path     string
		want     error
		mentions []string // phrases the error must carry for the person reading it
	}{
		{"fetched library", real, nil, nil},
		{"missing file", filepath.Join(t.TempDir(), soname), ErrLibraryMissing,
			[]string{"make setup", EnvLibrary}},
		{"unknown soname", "libonnxruntime-absent.so.9", ErrLibraryMissing,
			[]string{"make setup"}},
		{"older release", fakeRuntime(t, "1.23.2"), ErrWrongVersion,
			[]string{"1.23.2", "1.24.x", "make setup", EnvLibrary}},
		{"newer release", fakeRuntime(t, "1.25.0"), ErrWrongVersion,
			[]string{"1.25.0", "1.24.x"}},
		{"not onnx runtime", fakeLibrary(t, "int answer(void) { return 42; }"),
			ErrLibraryMissing, []string{"not an ONNX Runtime library"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			version, err := checkLibrary(c.path)
			if c.want == nil {
				if err != nil {
					t.Fatalf("checkLibrary(%s): %v; run make setup", c.path, err)
				}
				if !strings.HasPrefix(version, requiredSeries+".") {
					t.Fatalf("version %q, want %s.x", version, requiredSeries)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("checkLibrary(%s) = %v, want %v", c.path, err, c.want)
			}
			for _, m := range c.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestInit(t *testing.T) {
	path := LibraryPath()
	if err := Init(path); err != nil {
		t.Fatalf("Init(%s): %v; run make setup", path, err)
	}
	if err := Init(path); err != nil {
		t.Errorf("second Init: %v, want nil", err)
	}
	if err := Init(filepath.Join(t.TempDir(), soname)); err == nil {
		t.Error("Init with another path after loading: no error")
	}
	if v := RuntimeVersion(); !strings.HasPrefix(v, requiredSeries+".") {
		t.Errorf("RuntimeVersion() = %q, want %s.x", v, requiredSeries)
	}
}

// fakeRuntime compiles a shared library that answers OrtGetApiBase like an ONNX
// Runtime of the given version, without any API behind it.
func fakeRuntime(t *testing.T, version string) string {
	return fakeLibrary(t, `
#include <stdint.h>
typedef struct {
	const void *(*get_api)(uint32_t);
	const char *(*version)(void);
} api_base;
static const void *get_api(uint32_t v) { (void)v; return 0; }
static const char *version(void) { return "`+version+`"; }
static const api_base base = { get_api, version };
const api_base *OrtGetApiBase(void) { return &base; }
`)
}

// fakeLibrary compiles C source into a shared library with the C compiler cgo uses.
func fakeLibrary(t *testing.T, source string) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler to build a stand-in library: %v", err)
	}

	dir := t.TempDir()
	src, lib := filepath.Join(dir, "fake.c"), filepath.Join(dir, "libfake.so")
	writeFile(t, src, source)
	out, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, src).CombinedOutput()
	if err != nil {
		t.Fatalf("compile stand-in library: %v\n%s", err, out)
	}
	return lib
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
