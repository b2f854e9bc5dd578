package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/hydrocast/hydrocast/features"
)

// erased is the athlete the erasure tests forget: long enough not to turn up by
// chance in the bytes of a segment or snapshot.
const erased = "athlete-to-erase-5c81e2"

// assertNoTrace fails if any file of dir holds the id.
func assertNoTrace(t *testing.T, dir, id string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no files to scan")
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(id)) {
			t.Errorf("%s still holds %s", e.Name(), id)
		}
	}
}

// assertHolds fails unless the file bytes of dir hold the id, so that a test of
// erasure starts from a log that has something to erase.
func assertHolds(t *testing.T, dir, id string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if bytes.Contains(data, []byte(id)) {
			return
		}
	}
	t.Fatalf("no file of %s holds %s before erasing", dir, id)
}

// fillForErasure ingests readings of the erased athlete and another, valid and
// quarantined, with a snapshot between, so that both a snapshot and the open
// segment hold the athlete.
func fillForErasure(t *testing.T, d *Durable) {
	t.Helper()
	ctx := context.Background()
	for i := range 40 {
		for _, id := range []string{erased, "stays"} {
			if _, err := d.Ingest(ctx, hr(id, i*30, 120)); err != nil {
				t.Fatal(err)
			}
		}
		if i == 20 {
			if err := d.Snapshot(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := d.Ingest(ctx, hr(erased, 0, 900)); !errors.Is(err,
		features.ErrInvalidReading) {
		t.Fatalf("bad reading: %v", err)
	}
	if _, err := d.IngestBatch(ctx, []features.Reading{hr(erased, 1300, 130),
		hr("stays", 1300, 130)}); err != nil {
		t.Fatal(err)
	}
}

func TestEraseAthlete(t *testing.T) {
	for _, group := range []bool{false, true} {
		name := map[bool]string{false: "fsync each", true: "group commit"}[group]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			o := quiet()
			if !group {
				o.MaxBatchDelay = 0
			}
			d := openT(t, dir, o)
			fillForErasure(t, d)
			assertHolds(t, dir, erased)
			want, _ := d.Vectors(context.Background(), []string{"stays"}, t0.Add(time.Hour))
			defer want.Release()

			if err := d.Delete(context.Background(), erased); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			assertNoTrace(t, dir, erased)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}

			again := openT(t, dir, o)
			ids, _ := again.Athletes(context.Background())
			if !slices.Equal(ids, []string{"stays"}) {
				t.Errorf("after reopening the store holds %q, want [stays]", ids)
			}
			q, _ := again.Quarantine(context.Background())
			if len(q) != 0 {
				t.Errorf("quarantine after erasure: %+v", q)
			}
			got, _ := again.Vectors(context.Background(), []string{"stays"},
				t0.Add(time.Hour))
			defer got.Release()
			if !array.RecordEqual(got, want) {
				t.Error("the other athlete's features changed across the erasure")
			}
			assertNoTrace(t, dir, erased)
		})
	}
}

func TestEraseInterruptedIsFinishedOnOpen(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	fillForErasure(t, d)
	// The deletion is logged and applied, then the process stops before the
	// snapshot that erases.
	ctx := context.Background()
	apply := func(position) { d.store.Delete(ctx, erased) }
	if err := d.w.appendSealed(ctx, apply, AppendDelete(nil, erased)); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	assertHolds(t, dir, erased)

	again := openT(t, dir, quiet())
	assertNoTrace(t, dir, erased)
	if ids, _ := again.Athletes(ctx); !slices.Equal(ids, []string{"stays"}) {
		t.Errorf("store holds %q, want [stays]", ids)
	}
}

func TestEraseUnknownAthlete(t *testing.T) {
	dir := t.TempDir()
	d := openT(t, dir, quiet())
	fillForErasure(t, d)
	if err := d.EraseAthlete(context.Background(), "never-seen"); err != nil {
		t.Fatalf("EraseAthlete of an unknown athlete: %v", err)
	}
	if ids, _ := d.Athletes(context.Background()); len(ids) != 2 {
		t.Errorf("athletes %q, want both kept", ids)
	}
}

// TestEraseWhileOthersIngest erases an athlete while other athletes' readings
// stream in, with group commit, and finds every acknowledged reading of theirs
// after reopening.
func TestEraseWhileOthersIngest(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	fillForErasure(t, d)
	ctx := context.Background()

	const writers, perWriter = 4, 200
	var wg sync.WaitGroup
	for k := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("writer-%d", k)
			for i := range perWriter {
				if _, err := d.Ingest(ctx, hr(id, i*10, 100)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 3 {
		if err := d.EraseAthlete(ctx, erased); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	again := openT(t, dir, quiet())
	assertNoTrace(t, dir, erased)
	for k := range writers {
		id := fmt.Sprintf("writer-%d", k)
		newest, err := again.Newest(ctx, id)
		if want := t0.Add((perWriter - 1) * 10 * time.Second); err != nil ||
			!newest.Equal(want) {
			t.Errorf("%s: newest %v, %v; want %v", id, newest, err, want)
		}
	}
	c, _ := again.Counts(ctx)
	if least := uint64(writers * perWriter); c.Applied < least {
		t.Errorf("applied %d after reopening, want at least the writers' %d", c.Applied,
			least)
	}
}
