package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/storetest"
)

// quiet are options without background snapshots, so that tests decide when.
func quiet() *Options {
	o := DefaultOptions()
	o.SnapshotInterval, o.SnapshotBytes = -1, -1
	return &o
}

// openT opens a store in dir, failing the test on error, and closes it at the end.
func openT(t testing.TB, dir string, o *Options) *Durable {
	t.Helper()
	d, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// logBuffer collects a logger's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// withLog returns o logging into a new buffer.
func withLog(o *Options) (*Options, *logBuffer) {
	lb := &logBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(lb, nil))
	return o, lb
}

func TestDurableConformance(t *testing.T) {
	cases := []struct {
		name     string
		delay    time.Duration
		snapshot time.Duration
	}{
		{"fsync each", 0, -1},
		{"group commit", DefaultMaxBatchDelay, -1},
		{"snapshots all the time", DefaultMaxBatchDelay, time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) features.OnlineStore {
				o := quiet()
				o.MaxBatchDelay, o.SnapshotInterval = c.delay, c.snapshot
				return openT(t, t.TempDir(), o)
			})
		})
	}
}

// op is one write of a scripted workload.
type op struct {
	kind    string // "ingest", "batch", "delete", "snapshot"
	reading features.Reading
	batch   []features.Reading
	athlete string
}

// workload returns a deterministic mix of writes: readings in and out of order,
// duplicates, conflicting versions, invalid readings, batches, deletions, and
// snapshots at the given op indexes.
func workload(seed uint64, n int, snapshotsAt ...int) []op {
	rng := rand.New(rand.NewPCG(seed, 1))
	athletes := []string{"a", "b", "c", "d", "e"}
	clock := map[string]int{}
	var last features.Reading
	reading := func() features.Reading {
		id := athletes[rng.IntN(len(athletes))]
		clock[id] += 5 + rng.IntN(40)
		at := clock[id] - rng.IntN(200) // up to 200 s behind: some late, most not
		r := hr(id, at, 60+rng.Float64()*150)
		if rng.IntN(3) == 0 {
			r.Set(features.SkinTemp, 30+rng.Float64()*5)
			r.Set(features.FluidIntake, rng.Float64()*100)
		}
		switch k := rng.IntN(40); {
		case k == 0:
			r.Set(features.HeartRate, 400) // rejected
		case k == 1 && last.AthleteID != "":
			r = last // duplicate
		case k == 2 && last.AthleteID != "":
			r = last
			r.Set(features.HeartRate, 99) // replaces
		}
		last = r
		return r
	}

	var ops []op
	for i := range n {
		switch k := rng.IntN(100); {
		case slicesContains(snapshotsAt, i):
			ops = append(ops, op{kind: "snapshot"})
		case k < 8:
			b := make([]features.Reading, 2+rng.IntN(15))
			for j := range b {
				b[j] = reading()
			}
			ops = append(ops, op{kind: "batch", batch: b})
		case k < 9:
			ops = append(ops, op{kind: "delete", athlete: athletes[rng.IntN(len(athletes))]})
		default:
			ops = append(ops, op{kind: "ingest", reading: reading()})
		}
	}
	return ops
}

func slicesContains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// play applies the ops to the durable store and to a plain one, checking that each
// write has the same outcome in both.
func play(t *testing.T, d *Durable, ref *features.Store, ops []op) {
	t.Helper()
	ctx := context.Background()
	for i, o := range ops {
		switch o.kind {
		case "ingest":
			got, gerr := d.Ingest(ctx, o.reading)
			want, werr := ref.Ingest(ctx, o.reading)
			if got != want || (gerr == nil) != (werr == nil) {
				t.Fatalf("op %d: Ingest = %v, %v; plain store %v, %v", i, got, gerr, want, werr)
			}
		case "batch":
			got, err := d.IngestBatch(ctx, o.batch)
			want, _ := ref.IngestBatch(ctx, o.batch)
			if err != nil || got != want {
				t.Fatalf("op %d: IngestBatch = %+v, %v; plain store %+v", i, got, err, want)
			}
		case "delete":
			if err := d.Delete(ctx, o.athlete); err != nil {
				t.Fatal(err)
			}
			ref.Delete(ctx, o.athlete)
		case "snapshot":
			if err := d.Snapshot(ctx); err != nil {
				t.Fatalf("op %d: Snapshot: %v", i, err)
			}
		}
	}
}

// snapshotBytes returns a store's state in the canonical form of WriteSnapshot.
func snapshotBytes(t *testing.T, s *features.Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRecoveryEqualsNeverCrashing(t *testing.T) {
	cases := []struct {
		name        string
		segment     int64
		snapshotsAt []int
	}{
		{"log only", 0, nil},
		{"snapshot midway", 0, []int{700}},
		{"snapshot last", 0, []int{1499}},
		{"small segments, several snapshots", 8 << 10, []int{300, 800, 1100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			o := quiet()
			o.SegmentBytes = c.segment
			o.MaxBatchDelay = 0
			ref := features.NewStore(nil)

			d, err := Open(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			play(t, d, ref, workload(7, 1500, c.snapshotsAt...))
			// The workload reached every rule, or the comparison proves little.
			if rc, _ := ref.Counts(context.Background()); rc.Duplicate == 0 ||
				rc.Replaced == 0 || rc.Late == 0 || rc.Rejected == 0 {
				t.Fatalf("workload missed a rule: %+v", rc)
			}
			want := snapshotBytes(t, ref)
			if !bytes.Equal(snapshotBytes(t, d.store), want) {
				t.Fatal("the durable store's state differs from the plain store's")
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}

			again := openT(t, dir, o)
			if !bytes.Equal(snapshotBytes(t, again.store), want) {
				t.Fatal("recovered state differs from the store that never stopped")
			}
			segs, _ := listSegments(dir)
			snaps, _ := listSnapshots(dir)
			if len(c.snapshotsAt) > 0 && (len(snaps) != 1 || segs[0] != snaps[0].segment) {
				t.Errorf("after snapshots: segments %v, snapshots %v; want one snapshot and "+
					"the log from its segment on", segs, snaps)
			}
		})
	}
}

// writeReadings opens a store in dir, ingests n heart-rate readings of athlete a1
// one by one and closes it.
func writeReadings(t *testing.T, dir string, from, n int) {
	t.Helper()
	d, err := Open(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		if _, err := d.Ingest(context.Background(), hr("a1", i, 120)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// frameOffsets returns the offsets of the frames of a segment file.
func frameOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	start := int64(segmentHeaderSize)
	if _, dmg := scanFrames(data, start, func(end int64, _ *Record) {
		offs = append(offs, start)
		start = end
	}); dmg != nil {
		t.Fatalf("segment damaged before the test: %+v", dmg)
	}
	return offs
}

// applied returns the applied count of a1's readings in the store.
func applied(t *testing.T, d *Durable) uint64 {
	t.Helper()
	c, err := d.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.Applied
}

func TestTornTail(t *testing.T) {
	frame := appendFrame(nil, AppendReading(nil, &features.Reading{AthleteID: "a1"}))
	cases := []struct {
		name    string
		damage  func(data []byte, offs []int64) []byte
		applied uint64 // of the 20 readings written
	}{
		{"frame header cut", func(b []byte, _ []int64) []byte {
			return append(b, frame[:5]...)
		}, 20},
		{"payload cut", func(b []byte, _ []int64) []byte {
			return append(b, frame[:len(frame)-3]...)
		}, 20},
		{"zeros after the end", func(b []byte, _ []int64) []byte {
			return append(b, make([]byte, 4096)...)
		}, 20},
		{"last record garbled", func(b []byte, offs []int64) []byte {
			b[offs[19]+frameHeaderSize+2] ^= 0x40
			return b
		}, 19},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeReadings(t, dir, 0, 20)
			path := filepath.Join(dir, segmentName(1))
			offs := frameOffsets(t, path)
			data, _ := os.ReadFile(path)
			goodEnd := int64(len(data))
			if c.applied == 19 {
				goodEnd = offs[19]
			}
			os.WriteFile(path, c.damage(data, offs), 0o644)

			o, logs := withLog(quiet())
			d := openT(t, dir, o)
			if got := applied(t, d); got != c.applied {
				t.Errorf("recovered %d readings, want %d", got, c.applied)
			}
			if !strings.Contains(logs.String(), "wal torn tail truncated") {
				t.Errorf("no warning about the torn tail; log: %s", logs)
			}
			if info, _ := os.Stat(path); info.Size() != goodEnd {
				t.Errorf("segment is %d bytes after recovery, want %d", info.Size(), goodEnd)
			}

			// The repaired log takes more and recovers cleanly.
			d.Ingest(context.Background(), hr("a1", 100, 130))
			d.Close()
			o, logs = withLog(quiet())
			if got := applied(t, openT(t, dir, o)); got != c.applied+1 {
				t.Errorf("second recovery: %d readings, want %d", got, c.applied+1)
			}
			if logs.String() != "" {
				t.Errorf("second recovery warned: %s", logs)
			}
		})
	}
}

func TestCorruptMiddle(t *testing.T) {
	dir := t.TempDir()
	writeReadings(t, dir, 0, 20)
	path := filepath.Join(dir, segmentName(1))
	offs := frameOffsets(t, path)
	data, _ := os.ReadFile(path)
	data[offs[5]+frameHeaderSize+3] ^= 0x01
	os.WriteFile(path, data, 0o644)

	_, err := Open(dir, quiet())
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("Open: %v, want a *CorruptError", err)
	}
	if ce.Segment != segmentName(1) || ce.Offset != offs[5] {
		t.Errorf("damage reported at %s offset %d, want %s offset %d", ce.Segment, ce.Offset,
			segmentName(1), offs[5])
	}
	if !strings.Contains(err.Error(), segmentName(1)) ||
		!strings.Contains(err.Error(), fmt.Sprint(offs[5])) {
		t.Errorf("error %q names neither segment nor offset", err)
	}

	o, logs := withLog(quiet())
	o.SkipCorrupt = true
	d, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open with SkipCorrupt: %v", err)
	}
	if got := applied(t, d); got != 19 {
		t.Errorf("recovered %d readings skipping one, want 19", got)
	}
	if !strings.Contains(logs.String(), "wal corrupt records skipped") {
		t.Errorf("no warning about the skipped record; log: %s", logs)
	}
	d.Close()

	// The snapshot taken after skipping made the damage history.
	if got := applied(t, openT(t, dir, quiet())); got != 19 {
		t.Errorf("reopened without SkipCorrupt: %d readings, want 19", got)
	}
}

func TestDamageBeforeTheLastSegment(t *testing.T) {
	frame := appendFrame(nil, AppendDelete(nil, "a1"))
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		reason string
	}{
		{"cut frame at the end of segment 1", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, segmentName(1)), os.O_APPEND|os.O_WRONLY, 0)
			f.Write(frame[:len(frame)-1])
			f.Close()
		}, segmentName(1)},
		{"segment 2 missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, segmentName(2)))
		}, "segment missing"},
		{"segment 1 missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, segmentName(1)))
		}, "no readable snapshot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeReadings(t, dir, 0, 5)
			writeReadings(t, dir, 5, 5)
			writeReadings(t, dir, 10, 5)
			c.damage(t, dir)
			_, err := Open(dir, quiet())
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("Open: %v, want ErrCorrupt mentioning %q", err, c.reason)
			}
		})
	}
}

func TestUnreadableSnapshot(t *testing.T) {
	cases := []struct {
		name    string
		segment int64 // small segments let the snapshot delete the log before it
		wantErr bool
	}{
		{"log still complete: replayed from the start", 0, false},
		{"log trimmed: refuses to lose data", 2 << 10, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			o := quiet()
			o.SegmentBytes = c.segment
			d, err := Open(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				d.Ingest(context.Background(), hr("a1", i, 120))
			}
			if err := d.Snapshot(context.Background()); err != nil {
				t.Fatal(err)
			}
			d.Close()
			snaps, _ := listSnapshots(dir)
			path := filepath.Join(dir, snapshotName(snaps[0]))
			data, _ := os.ReadFile(path)
			data[len(data)/2] ^= 0xff
			os.WriteFile(path, data, 0o644)

			o, logs := withLog(quiet())
			d, err = Open(dir, o)
			if !strings.Contains(logs.String(), "wal snapshot unreadable") {
				t.Errorf("no warning about the snapshot; log: %s", logs)
			}
			if c.wantErr {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open: %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if got := applied(t, d); got != 200 {
				t.Errorf("recovered %d readings, want 200", got)
			}
		})
	}
}

func TestLeftoverTemporarySnapshot(t *testing.T) {
	dir := t.TempDir()
	writeReadings(t, dir, 0, 3)
	tmp := filepath.Join(dir, "snapshot-123.tmp")
	os.WriteFile(tmp, []byte("half a snapshot"), 0o644)
	if got := applied(t, openT(t, dir, quiet())); got != 3 {
		t.Errorf("recovered %d readings, want 3", got)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary snapshot still there: %v", err)
	}
}

func TestLockedAndClosed(t *testing.T) {
	dir := t.TempDir()
	d := openT(t, dir, quiet())
	if _, err := Open(dir, quiet()); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}

	d.Close()
	ctx := context.Background()
	if _, err := d.Ingest(ctx, hr("a1", 0, 120)); !errors.Is(err, ErrClosed) {
		t.Errorf("Ingest after Close: %v, want ErrClosed", err)
	}
	if err := d.Delete(ctx, "a1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Delete after Close: %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	openT(t, dir, quiet()) // the lock is free again
}

func TestGroupCommit(t *testing.T) {
	const appenders = 64
	cases := []struct {
		name     string
		delay    time.Duration
		maxSyncs int64
	}{
		{"fsync each", 0, appenders},
		{"batched", 50 * time.Millisecond, appenders / 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := quiet()
			o.MaxBatchDelay = c.delay
			d := openT(t, t.TempDir(), o)
			var wg sync.WaitGroup
			for a := range appenders {
				wg.Go(func() {
					r := hr(fmt.Sprint(a), 0, 100)
					if _, err := d.Ingest(context.Background(), r); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			syncs := d.w.syncs.Load()
			if syncs > c.maxSyncs || (c.delay == 0 && syncs != appenders) {
				t.Errorf("%d fsyncs for %d concurrent appends, want at most %d", syncs,
					appenders, c.maxSyncs)
			}
			if got := applied(t, d); got != appenders {
				t.Errorf("%d applied, want %d", got, appenders)
			}
		})
	}
}

func TestBackgroundSnapshots(t *testing.T) {
	dir := t.TempDir()
	o := DefaultOptions()
	o.SnapshotInterval = 10 * time.Millisecond
	o.SegmentBytes = 1 << 10
	d := openT(t, dir, &o)
	for i := range 300 {
		d.Ingest(context.Background(), hr("a1", i, 120))
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		snaps, _ := listSnapshots(dir)
		segs, _ := listSegments(dir)
		if len(snaps) == 1 && segs[0] > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot trimmed the log: snapshots %v, segments %v", snaps, segs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.Close()
	if got := applied(t, openT(t, dir, quiet())); got != 300 {
		t.Errorf("recovered %d readings, want 300", got)
	}
}
