package inference_test

import (
	"context"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/models/ort"
)

// residentBytes reads this process's resident set size from /proc/self/statm.
func residentBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	fields := strings.Fields(string(b))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestThousandSwapsKeepMemoryFlat loads the three models 1,000 times and swaps each
// set in under a server, as a registry watch does, then checks that resident memory
// after the last 800 swaps is where it was after the first 200: each unloaded set's
// ONNX Runtime sessions are freed.
func TestThousandSwapsKeepMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 model loads")
	}
	reg := openRegistry(t)
	ms := testModels()
	publishAll(t, reg, ms)
	srv := inference.NewServer(features.NewStore(nil), loadSet(t, reg), nil)
	defer srv.Close()

	settle := func() int64 {
		// Swapped-out sets close in the background once their requests finish.
		time.Sleep(200 * time.Millisecond)
		debug.FreeOSMemory()
		return residentBytes(t)
	}
	var warm int64
	for i := range 1000 {
		set, err := inference.LoadModelSet(context.Background(), reg, "production",
			ort.Options{})
		if err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		srv.SetModels(set)
		if i == 199 {
			warm = settle()
		}
	}
	end := settle()
	const slack = 24 << 20
	if end > warm+slack {
		t.Errorf("resident memory grew from %d MiB after 200 swaps to %d MiB after "+
			"1,000: more than %d MiB, a leak of about %d KiB a swap", warm>>20, end>>20,
			slack>>20, (end-warm)>>10/800)
	}
	t.Logf("resident memory %d MiB after 200 swaps, %d MiB after 1,000", warm>>20, end>>20)
}
