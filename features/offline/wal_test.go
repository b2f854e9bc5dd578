package offline_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/wal"
)

var _ offline.WAL = (*wal.Durable)(nil)

// TestHoldingsDeleteWithDurableLog deletes an athlete from an offline store and a
// write-ahead-logged online store, which is its own log, under one root, and finds
// no byte of the athlete's id in any file there.
func TestHoldingsDeleteWithDurableLog(t *testing.T) {
	s, rows := deletionFixture(t)
	o := wal.DefaultOptions()
	o.SnapshotInterval, o.SnapshotBytes = -1, -1
	d, err := wal.Open(filepath.Join(s.Dir(), "wal"), &o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	for i, r := range rows {
		d.Ingest(ctx, r.Reading)
		if i == len(rows)/2 {
			if err := d.Snapshot(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}

	h := offline.Holdings{Online: d, Offline: s, WAL: d}
	if err := h.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoTrace(t, s.Dir(), gone)
	if ids, _ := d.Athletes(ctx); slices.Contains(ids, gone) || len(ids) == 0 {
		t.Errorf("online store holds %q", ids)
	}
}
