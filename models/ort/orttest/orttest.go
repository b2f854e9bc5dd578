// Package orttest loads ONNX Runtime for tests of packages that run models.
package orttest

import (
	"testing"

	"github.com/hydrocast/hydrocast/models/ort"
)

// Init loads the runtime found by ort.LibraryPath, failing tb with advice when it
// cannot: a test that needs the runtime must not pass without it.
func Init(tb testing.TB) {
	tb.Helper()
	if err := ort.Init(ort.LibraryPath()); err != nil {
		tb.Fatalf("onnx runtime unavailable, run make setup: %v", err)
	}
}
