package offline_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
)

// gone is the athlete the deletion tests forget: an id long enough not to turn up
// by chance in compressed bytes.
const gone = "athlete-to-forget-7f3a9c"

// without returns the rows not of the athlete.
func without(rows []offline.Row, athleteID string) []offline.Row {
	return slices.DeleteFunc(slices.Clone(rows), func(r offline.Row) bool {
		return r.AthleteID == athleteID
	})
}

// assertNoTrace reads every file under root, hidden ones included, and fails if
// any holds the athlete's id.
func assertNoTrace(t *testing.T, root, athleteID string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(athleteID)) {
			t.Errorf("%s still holds %s", path, athleteID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no files to scan")
	}
}

// deletionFixture fills a store with three athletes over two days in small row
// groups, a foreign file of the athlete alone, a foreign file mixing them, and
// buffered rows; it returns the store and every row it holds.
func deletionFixture(t *testing.T) (*offline.Store, []offline.Row) {
	t.Helper()
	s := openStore(t, &offline.Options{RowGroupRows: 32})
	rows := makeRows([]string{"keep-1", gone, "keep-2"}, 100, time.Minute)
	appendFlush(t, s, rows)

	alone := makeRows([]string{gone}, 5, time.Second)
	writeForeign(t, s.Dir(), "date=2025-07-14", "part-50.parquet", alone)
	mixed := makeRows([]string{gone, "sim-1"}, 5, time.Second)
	writeForeign(t, s.Dir(), "date=2025-07-14", "part-51.parquet", mixed)
	for _, r := range slices.Concat(alone, mixed) {
		r.IngestTime, r.Late = time.Time{}, false
		rows = append(rows, r)
	}

	buffered := makeRows([]string{gone, "keep-1"}, 3, time.Hour)
	for i := range buffered {
		buffered[i].Source = "scale"
	}
	if err := s.Append(context.Background(), buffered...); err != nil {
		t.Fatal(err)
	}
	return s, append(rows, buffered...)
}

func TestDeleteAthlete(t *testing.T) {
	s, rows := deletionFixture(t)
	ctx := context.Background()

	removed, err := s.DeleteAthlete(ctx, gone)
	if err != nil {
		t.Fatalf("DeleteAthlete: %v", err)
	}
	if want := len(rows) - len(without(rows, gone)); removed != int64(want) {
		t.Fatalf("removed %d readings, want %d", removed, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	assertNoTrace(t, s.Dir(), gone)
	sameRows(t, collect(t, s, offline.Query{}), without(rows, gone))

	dir := filepath.Join(s.Dir(), "readings", "date=2025-07-14")
	if _, err := os.Stat(filepath.Join(dir, "part-50.parquet")); !errors.Is(err,
		os.ErrNotExist) {
		t.Errorf("the file of the athlete alone is still there: %v", err)
	}

	// The rewritten foreign file keeps its own schema and metadata.
	pf, err := file.OpenParquetFile(filepath.Join(dir, "part-51.parquet"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if v := pf.MetaData().KeyValueMetadata().FindValue("hydrocast.simulated"); v == nil ||
		*v != "true" {
		t.Errorf("rewritten file lost its metadata: %v", v)
	}
	if pf.MetaData().Schema.ColumnIndexByName(offline.ColIngestTime) >= 0 {
		t.Error("rewritten file gained an ingest_time column")
	}

	again, err := s.DeleteAthlete(ctx, gone)
	if err != nil || again != 0 {
		t.Fatalf("second deletion removed %d, error %v; want 0 and none", again, err)
	}
}

func TestExportAthlete(t *testing.T) {
	s, rows := deletionFixture(t)
	want := slices.DeleteFunc(slices.Clone(rows), func(r offline.Row) bool {
		return r.AthleteID != gone
	})

	tests := []struct {
		format offline.ExportFormat
		decode func(t *testing.T, data []byte) []offline.Row
	}{
		{offline.ExportParquet, decodeParquet},
		{offline.ExportJSONLines, decodeJSONLines},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var buf bytes.Buffer
			n, err := s.ExportAthlete(context.Background(), gone, &buf, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(want)) {
				t.Fatalf("exported %d readings, want %d", n, len(want))
			}
			got := tt.decode(t, buf.Bytes())
			if !slices.IsSortedFunc(got, func(a, b offline.Row) int {
				return a.Time.Compare(b.Time)
			}) {
				t.Error("export not in event-time order")
			}
			sameRows(t, got, want)
		})
	}

	_, err := s.ExportAthlete(context.Background(), gone, &bytes.Buffer{}, "csv")
	if !errors.Is(err, offline.ErrUnknownFormat) {
		t.Fatalf("csv export: %v, want ErrUnknownFormat", err)
	}
}

func decodeParquet(t *testing.T, data []byte) []offline.Row {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 20},
		memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var out []offline.Row
	for rr.Next() {
		rows, err := offline.RowsOf(rr.Record())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return out
}

func decodeJSONLines(t *testing.T, data []byte) []offline.Row {
	t.Helper()
	var out []offline.Row
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		at, err := time.Parse(time.RFC3339Nano, m["time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		r := offline.Row{Reading: features.NewReading(m["athlete_id"].(string),
			m["source"].(string), at), Late: m["late"].(bool)}
		if s, ok := m["ingest_time"].(string); ok {
			if r.IngestTime, err = time.Parse(time.RFC3339Nano, s); err != nil {
				t.Fatal(err)
			}
		}
		for sig := range features.NumSignals {
			if v, ok := m[sig.Name()].(float64); ok {
				r.Set(sig, v)
			}
		}
		out = append(out, r)
	}
	return out
}

// fakeWAL is a write-ahead log kept as one file per athlete.
type fakeWAL struct {
	dir  string
	fail error
}

func (w *fakeWAL) EraseAthlete(ctx context.Context, athleteID string) error {
	if w.fail != nil {
		return w.fail
	}
	err := os.Remove(filepath.Join(w.dir, athleteID+".wal"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// holdingsFixture returns holdings of the athlete and "stay": an online store that
// ingested their readings (and quarantined a bad one of the athlete), the offline
// store of deletionFixture and a log with a file per athlete, all under one root.
func holdingsFixture(t *testing.T, walErr error) (offline.Holdings, string) {
	t.Helper()
	s, rows := deletionFixture(t)
	online := features.NewStore(nil)
	ctx := context.Background()
	for _, r := range rows {
		online.Ingest(ctx, r.Reading)
	}
	bad := features.NewReading(gone, "watch", t0)
	bad.Set(features.HeartRate, 900)
	if _, err := online.Ingest(ctx, bad); !errors.Is(err, features.ErrInvalidReading) {
		t.Fatalf("bad reading: %v", err)
	}

	wal := &fakeWAL{dir: filepath.Join(s.Dir(), "wal"), fail: walErr}
	if err := os.MkdirAll(wal.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{gone, "keep-1"} {
		if err := os.WriteFile(filepath.Join(wal.dir, id+".wal"), []byte(id), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return offline.Holdings{Online: online, Offline: s, WAL: wal}, s.Dir()
}

func TestHoldingsDelete(t *testing.T) {
	h, root := holdingsFixture(t, nil)
	ctx := context.Background()
	if err := h.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := h.Offline.Close(); err != nil {
		t.Fatal(err)
	}

	assertNoTrace(t, root, gone)
	ids, _ := h.Online.Athletes(ctx)
	if slices.Contains(ids, gone) || !slices.Contains(ids, "keep-1") {
		t.Errorf("online store holds %q", ids)
	}
	if err := h.Online.Vector(ctx, gone, t0, features.NewVector()); !errors.Is(err,
		features.ErrUnknownAthlete) {
		t.Errorf("online vector after deletion: %v, want ErrUnknownAthlete", err)
	}
	q, _ := h.Online.Quarantine(ctx)
	for _, e := range q {
		if e.AthleteID == gone {
			t.Errorf("quarantine still holds %+v", e)
		}
	}
}

func TestHoldingsDeleteGoesOnPastFailure(t *testing.T) {
	walErr := errors.New("log unavailable")
	h, _ := holdingsFixture(t, walErr)
	ctx := context.Background()
	if err := h.Delete(ctx, gone); !errors.Is(err, walErr) {
		t.Fatalf("Delete: %v, want the log's error", err)
	}
	if ids, _ := h.Online.Athletes(ctx); slices.Contains(ids, gone) {
		t.Error("online store not deleted after the log failed")
	}
	if n := len(collect(t, h.Offline, offline.Query{Athletes: []string{gone}})); n != 0 {
		t.Errorf("offline store still has %d readings", n)
	}
}

func TestHoldingsExport(t *testing.T) {
	h, root := holdingsFixture(t, nil)
	dir := filepath.Join(root, "export")
	asOf := t0.Add(99 * time.Minute)
	sum, err := h.Export(context.Background(), gone, dir, offline.ExportJSONLines, asOf)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}

	data, err := os.ReadFile(sum.ReadingsFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeJSONLines(t, data); int64(len(got)) != sum.Readings || len(got) == 0 {
		t.Fatalf("readings file has %d lines, summary says %d", len(got), sum.Readings)
	}

	var fx struct {
		AthleteID string    `json:"athlete_id"`
		AsOf      time.Time `json:"as_of"`
		Features  []struct {
			Name   string   `json:"name"`
			Value  *float64 `json:"value"`
			Status string   `json:"status"`
		} `json:"features"`
	}
	data, err = os.ReadFile(sum.FeaturesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	if fx.AthleteID != gone || !fx.AsOf.Equal(asOf) ||
		len(fx.Features) != features.CurrentSchema().Len() {
		t.Fatalf("features of %q as of %s, %d features", fx.AthleteID, fx.AsOf,
			len(fx.Features))
	}

	// The exported features are the online store's.
	v := features.NewVector()
	if err := h.Online.Vector(context.Background(), gone, asOf, v); err != nil {
		t.Fatal(err)
	}
	for i, f := range fx.Features {
		if f.Status != v.Status[i].String() || (f.Value == nil) != math.IsNaN(v.Values[i]) ||
			(f.Value != nil && *f.Value != v.Values[i]) {
			t.Fatalf("feature %s: %v %s, online %v %v", f.Name, f.Value, f.Status,
				v.Values[i], v.Status[i])
		}
	}
}
