package offline_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features/offline"
)

// TestDamagedFile scans copies of a partition file damaged byte by byte and cut
// short: each scan must yield rows or an error wrapping ErrNotReadings, and never
// panic. A panic inside Arrow's decoder would end a server, so it has to surface
// in a goroutine that recovers it.
//
// TODO: this is not a fuzz target because Arrow's decoder trusts the sizes a
// damaged file declares and can try to allocate gigabytes, which no recover
// catches; fuzzing finds such files within minutes. A damaged file on disk can so
// still take a process down.
func TestDamagedFile(t *testing.T) {
	s := openStore(t, &offline.Options{RowGroupRows: 8})
	appendFlush(t, s, makeRows([]string{"a", "b"}, 20, time.Minute))
	valid, err := os.ReadFile(filepath.Join(s.Dir(), "readings", "date=2025-07-14",
		"part-0.parquet"))
	if err != nil {
		t.Fatal(err)
	}

	var cases [][]byte
	for _, n := range []int{0, 4, 8, len(valid) / 3, len(valid) - 8, len(valid) - 1} {
		cases = append(cases, valid[:n])
	}
	for i := 4; i < len(valid)-8; i += 53 {
		damaged := append([]byte(nil), valid...)
		damaged[i] ^= 0x5a
		cases = append(cases, damaged)
	}

	dir := filepath.Join(t.TempDir(), "readings", "date=2025-07-14")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	damagedStore, err := offline.Open(filepath.Dir(filepath.Dir(dir)), nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := 0
	for _, data := range cases {
		if err := os.WriteFile(filepath.Join(dir, "part-0.parquet"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, err := range damagedStore.Rows(context.Background(), offline.Query{}) {
			if err != nil {
				if !errors.Is(err, offline.ErrNotReadings) {
					t.Fatalf("error not ErrNotReadings: %v", err)
				}
				errs++
			}
		}
	}
	if errs == 0 {
		t.Fatal("no damaged file was reported")
	}
}

// TestDamagedFooter scans copies of a partition file with every twentieth byte of
// its footer (the metadata of every column chunk) damaged in turn. Declared sizes and offsets
// damaged there once made Arrow's reader panic in goroutines of its own, which no
// recover reaches, ending the process; each scan must now yield rows or an error
// wrapping ErrNotReadings.
func TestDamagedFooter(t *testing.T) {
	s := openStore(t, &offline.Options{RowGroupRows: 8})
	appendFlush(t, s, makeRows([]string{"a", "b"}, 20, time.Minute))
	valid, err := os.ReadFile(filepath.Join(s.Dir(), "readings", "date=2025-07-14",
		"part-0.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "readings", "date=2025-07-14")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	damagedStore, err := offline.Open(filepath.Dir(filepath.Dir(dir)), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The footer's length is the little-endian uint32 before the closing "PAR1".
	n := len(valid)
	footer := int(valid[n-8]) | int(valid[n-7])<<8 | int(valid[n-6])<<16 |
		int(valid[n-5])<<24
	errs := 0
	// A stride of 20 keeps the test to seconds and includes the byte 940 into the
	// footer, a column chunk's size, that crashed the old reader.
	for i := n - 8 - footer; i < n-8; i += 20 {
		damaged := bytes.Clone(valid)
		damaged[i] ^= 0xff
		if err := os.WriteFile(filepath.Join(dir, "part-0.parquet"), damaged,
			0o644); err != nil {
			t.Fatal(err)
		}
		for _, err := range damagedStore.Rows(context.Background(), offline.Query{}) {
			if err != nil {
				if !errors.Is(err, offline.ErrNotReadings) {
					t.Fatalf("byte %d: error not ErrNotReadings: %v", i, err)
				}
				errs++
			}
		}
	}
	if errs == 0 {
		t.Fatal("no damaged footer was reported")
	}
	t.Logf("%d of %d damaged footer bytes reported", errs, footer/20)
}
