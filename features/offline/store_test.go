package offline_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
)

func TestRoundTripAndLayout(t *testing.T) {
	s := openStore(t, nil)
	// 90 readings a minute apart from 23:00 cross midnight after the 60th.
	rows := makeRows([]string{"b", "a"}, 90, time.Minute)
	appendFlush(t, s, rows)

	var files []string
	err := filepath.WalkDir(filepath.Join(s.Dir(), "readings"),
		func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(s.Dir(), path)
				files = append(files, filepath.ToSlash(rel))
			}
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"readings/date=2025-07-14/part-0.parquet",
		"readings/date=2025-07-15/part-0.parquet"}
	if !slices.Equal(files, want) {
		t.Fatalf("files %q, want %q", files, want)
	}

	sameRows(t, collect(t, s, offline.Query{}), rows)
}

func TestScanBatchesHaveSchema(t *testing.T) {
	s := openStore(t, nil)
	appendFlush(t, s, makeRows([]string{"a"}, 10, time.Minute))
	n := 0
	for rec, err := range s.Scan(context.Background(), offline.Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Schema().Equal(offline.ReadingsSchema()) {
			t.Fatalf("batch schema %s", rec.Schema())
		}
		n += int(rec.NumRows())
	}
	if n != 10 {
		t.Fatalf("scanned %d rows, want 10", n)
	}
}

func TestQuery(t *testing.T) {
	// Small row groups and batches, so that pruning and run slicing both happen.
	s := openStore(t, &offline.Options{RowGroupRows: 16})
	rows := makeRows([]string{"a", "b", "c", "d"}, 120, 30*time.Second)
	appendFlush(t, s, rows)

	tests := []struct {
		name string
		q    offline.Query
	}{
		{"everything", offline.Query{}},
		{"one athlete", offline.Query{Athletes: []string{"c"}}},
		{"two athletes", offline.Query{Athletes: []string{"d", "a"}}},
		{"unknown athlete", offline.Query{Athletes: []string{"zz"}}},
		{"from", offline.Query{From: t0.Add(20 * time.Minute)}},
		{"to", offline.Query{To: t0.Add(20 * time.Minute)}},
		{"next day only", offline.Query{From: time.Date(2025, 7, 15, 0, 0, 0, 0, time.UTC)}},
		{"range and athlete", offline.Query{From: t0.Add(10 * time.Minute),
			To: t0.Add(70 * time.Minute), Athletes: []string{"b"}}},
		{"range between readings", offline.Query{From: t0.Add(10*time.Minute + time.Second),
			To: t0.Add(10*time.Minute + 2*time.Second)}},
		{"sub-microsecond bounds", offline.Query{From: t0.Add(5*time.Minute - time.Nanosecond),
			To: t0.Add(6*time.Minute + time.Nanosecond), BatchRows: 7}},
		{"small batches", offline.Query{Athletes: []string{"b"}, BatchRows: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []offline.Row
			for _, r := range rows {
				if selected(tt.q, &r) {
					want = append(want, r)
				}
			}
			sameRows(t, collect(t, s, tt.q), want)
		})
	}
}

// selected is Query's meaning, written plainly.
func selected(q offline.Query, r *offline.Row) bool {
	if !q.From.IsZero() && r.Time.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !r.Time.Before(q.To) {
		return false
	}
	return len(q.Athletes) == 0 || slices.Contains(q.Athletes, r.AthleteID)
}

func TestScanStopsEarly(t *testing.T) {
	s := openStore(t, &offline.Options{RowGroupRows: 8})
	appendFlush(t, s, makeRows([]string{"a", "b"}, 50, time.Minute))
	n := 0
	for _, err := range s.Rows(context.Background(), offline.Query{BatchRows: 4}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 13 {
			break
		}
	}
	if n != 13 {
		t.Fatalf("got %d rows before break, want 13", n)
	}
}

func TestScanCancelled(t *testing.T) {
	s := openStore(t, nil)
	appendFlush(t, s, makeRows([]string{"a"}, 5, time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got error
	for _, err := range s.Scan(ctx, offline.Query{}) {
		got = err
	}
	if !errors.Is(got, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", got)
	}
}

func TestFlushBySize(t *testing.T) {
	s := openStore(t, &offline.Options{MaxBufferedRows: 10})
	ctx := context.Background()
	rows := makeRows([]string{"a"}, 25, time.Second)
	for _, r := range rows {
		if err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(collect(t, s, offline.Query{})); got != 20 {
		t.Fatalf("%d rows readable before Flush, want the 20 of two full buffers", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sameRows(t, collect(t, s, offline.Query{}), rows)
	if err := s.Append(ctx, rows[0]); !errors.Is(err, offline.ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
}

func TestRunFlushesByTime(t *testing.T) {
	s := openStore(t, &offline.Options{FlushInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	rows := makeRows([]string{"a"}, 3, time.Second)
	if err := s.Append(ctx, rows...); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(collect(t, s, offline.Query{})) < len(rows) {
		if time.Now().After(deadline) {
			t.Fatal("Run did not flush the buffer")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// What is left at cancellation is flushed too.
	late := makeRows([]string{"z"}, 2, time.Second)
	if err := s.Append(ctx, late...); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	sameRows(t, collect(t, s, offline.Query{}), append(rows, late...))
}

// TestCloseWaitsForRunsLastFlush stops Run and closes the store at once, as a server
// does on SIGTERM: Close must not return while Run's last flush is still writing,
// or the process exits with the rows half on disk.
func TestCloseWaitsForRunsLastFlush(t *testing.T) {
	for round := range 5 {
		dir := t.TempDir()
		s, err := offline.Open(dir, &offline.Options{FlushInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		rows := makeRows([]string{"a", "b", "c", "d"}, 20000, time.Second)
		if err := s.Append(ctx, rows...); err != nil {
			t.Fatal(err)
		}
		cancel()
		time.Sleep(2 * time.Millisecond) // Run's last flush takes the buffer meanwhile
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// What Close promised is on disk now, whether or not Run has returned yet.
		reopened, err := offline.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(collect(t, reopened, offline.Query{})); got != len(rows) {
			t.Fatalf("round %d: %d of %d rows on disk after Close", round, got, len(rows))
		}
		reopened.Close()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}

func TestIngestTimeDefaultsToClock(t *testing.T) {
	now := time.Date(2025, 7, 20, 8, 0, 0, 0, time.UTC)
	s := openStore(t, &offline.Options{Now: func() time.Time { return now }})
	r := makeRows([]string{"a"}, 1, time.Second)[0]
	r.IngestTime = time.Time{}
	appendFlush(t, s, []offline.Row{r})
	got := collect(t, s, offline.Query{})
	if len(got) != 1 || !got[0].IngestTime.Equal(now) {
		t.Fatalf("ingest time %v, want %v", got[0].IngestTime, now)
	}
}

func TestFilesAreNeverOverwritten(t *testing.T) {
	s := openStore(t, nil)
	first := makeRows([]string{"a"}, 3, time.Second)
	appendFlush(t, s, first)

	// Another writer's file with a higher number: the next file goes after it.
	dir := filepath.Join(s.Dir(), "readings", "date=2025-07-14")
	data, err := os.ReadFile(filepath.Join(dir, "part-0.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "part-7.parquet"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	second := makeRows([]string{"b"}, 3, time.Second)
	appendFlush(t, s, second)

	if _, err := os.Stat(filepath.Join(dir, "part-8.parquet")); err != nil {
		t.Fatalf("second flush did not write part-8: %v", err)
	}
	sameRows(t, collect(t, s, offline.Query{}), slices.Concat(first, first, second))
}

// TestForeignFile reads a file written without ingest_time and late, as the
// simulator writes them.
func TestForeignFile(t *testing.T) {
	s := openStore(t, nil)
	rows := makeRows([]string{"sim"}, 4, time.Minute)
	writeForeign(t, s.Dir(), "date=2025-07-14", "part-0.parquet", rows)

	for i := range rows {
		rows[i].IngestTime, rows[i].Late = time.Time{}, false
	}
	sameRows(t, collect(t, s, offline.Query{}), rows)
}

// foreignSchema is the readings schema without ingest_time and late.
func foreignSchema() *arrow.Schema {
	var fields []arrow.Field
	for _, f := range offline.ReadingsSchema().Fields() {
		if f.Name != offline.ColIngestTime && f.Name != offline.ColLate {
			fields = append(fields, f)
		}
	}
	return arrow.NewSchema(fields, nil)
}

// writeForeign writes rows in foreignSchema, with metadata, as another writer
// would.
func writeForeign(t testing.TB, root, partition, name string, rows []offline.Row) {
	t.Helper()
	full := offline.NewRecord(memory.DefaultAllocator, rows)
	defer full.Release()
	sc := foreignSchema()
	var cols []arrow.Array
	for _, f := range sc.Fields() {
		cols = append(cols, full.Column(full.Schema().FieldIndices(f.Name)[0]))
	}
	rec := array.NewRecord(sc, cols, full.NumRows())
	defer rec.Release()

	dir := filepath.Join(root, "readings", partition)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta := [][2]string{{"hydrocast.simulated", "true"}}
	err = offline.WriteParquet(f, sc, meta, 0, func(write func(arrow.Record) error) error {
		return write(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCorruptFileIsAnError(t *testing.T) {
	s := openStore(t, nil)
	dir := filepath.Join(s.Dir(), "readings", "date=2025-07-14")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "part-0.parquet"), []byte("PAR1 nope PAR1"),
		0o644); err != nil {
		t.Fatal(err)
	}
	var got error
	for _, err := range s.Scan(context.Background(), offline.Query{}) {
		got = err
	}
	if !errors.Is(got, offline.ErrNotReadings) {
		t.Fatalf("error %v, want ErrNotReadings", got)
	}
}

func TestHiddenAndForeignNamesIgnored(t *testing.T) {
	s := openStore(t, nil)
	rows := makeRows([]string{"a"}, 3, time.Second)
	appendFlush(t, s, rows)
	dir := filepath.Join(s.Dir(), "readings")
	for _, name := range []string{"date=2025-07-14/.part-x.tmp", "date=2025-07-14/_SUCCESS",
		"notadate/part-0.parquet"} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sameRows(t, collect(t, s, offline.Query{}), rows)
}

// TestReadableByPyArrow checks that pandas' Parquet engine reads the files with
// the types a data scientist expects. It runs where python3 has pyarrow.
func TestReadableByPyArrow(t *testing.T) {
	if err := exec.Command("python3", "-c", "import pyarrow.parquet").Run(); err != nil {
		t.Skip("python3 with pyarrow not available")
	}
	s := openStore(t, nil)
	rows := makeRows([]string{"a", "b"}, 90, time.Minute)
	appendFlush(t, s, rows)

	script := `
import sys, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet", partitioning="hive").to_table()
print(t.num_rows, t.schema.field("time").type, t.schema.field("heart_rate_bpm").type,
      t.column("skin_temp_c").null_count)
`
	out, err := exec.Command("python3", "-c", script,
		filepath.Join(s.Dir(), "readings")).CombinedOutput()
	if err != nil {
		t.Fatalf("pyarrow: %v\n%s", err, out)
	}
	nulls := 0
	for _, r := range rows {
		if !r.Has(features.SkinTemp) {
			nulls++
		}
	}
	want := strings.Join([]string{"180", "timestamp[us, tz=UTC]", "double",
		strconv.Itoa(nulls)}, " ")
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("pyarrow read %q, want %q", got, want)
	}
}
