package training_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"iter"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/pit"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/training"
)

// pitStart is the start of the small offline store's sessions.
var pitStart = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

// pitLabelNames are the training set's label columns: one or more of each family.
var pitLabelNames = []string{models.OutSweatRate, training.LabelSweatBaseline,
	models.OutCoreTemp15m, models.OutCoreTemp30m, training.LabelFault}

// smallStore writes two athletes' 60-minute sessions, a reading every 10 s, to an
// offline store.
func smallStore(t testing.TB) *offline.Store {
	t.Helper()
	var rows []offline.Row
	for k, id := range []string{"ann", "bob"} {
		for i := range 360 {
			at := pitStart.Add(time.Duration(k)*7*time.Minute + time.Duration(i)*10*time.Second)
			r := offline.Row{Reading: features.NewReading(id, "watch", at),
				IngestTime: at.Add(2 * time.Second)}
			r.Set(features.HeartRate, 120+float64(i%40)+float64(k*5))
			r.Set(features.SkinTemp, 33+float64(i%30)/20)
			if i%6 == 0 {
				r.Set(features.AmbientTemp, 27+float64(i)/100)
				r.Set(features.Humidity, 50)
			}
			rows = append(rows, r)
		}
	}
	s, err := offline.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), rows...); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

// pitLabels returns labels every 3 minutes from minute from (included) to to
// (excluded), each with some labels unknown.
func pitLabels(from, to int) []pit.Label {
	var ls []pit.Label
	for m := from; m < to; m += 3 {
		for k, id := range []string{"ann", "bob"} {
			v := []float64{1 + float64(m)/100, 0.9, 37 + float64(m)/60, math.NaN(),
				float64(m / 20 % 2)}
			if (m+k)%4 == 0 {
				v[0], v[4] = math.NaN(), math.NaN()
			}
			ls = append(ls, pit.Label{AthleteID: id,
				Time: pitStart.Add(time.Duration(m) * time.Minute), Values: v})
		}
	}
	return ls
}

// recordsSource serves records from memory.
type recordsSource []arrow.Record

func (r recordsSource) Records(context.Context) iter.Seq2[arrow.Record, error] {
	return func(yield func(arrow.Record, error) bool) {
		for _, rec := range r {
			if !yield(rec, nil) {
				return
			}
		}
	}
}

func (recordsSource) Fingerprint() string { return "" }

// writeTrainingSet writes the training set of labels with pit.WriteParquet to path.
func writeTrainingSet(t testing.TB, path string, src pit.Source, names []string,
	labels []pit.Label) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	written, err := pit.WriteParquet(context.Background(), f, src, names, labels, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := written.Rows; n != int64(len(labels)) {
		t.Fatalf("%d rows written for %d labels", n, len(labels))
	}
}

func TestParquetSourceMatchesBuild(t *testing.T) {
	store := smallStore(t)
	parts := [][]pit.Label{pitLabels(1, 31), pitLabels(31, 70)}

	// The training set in two files, and the same rows as pit.Build returns them.
	dir := t.TempDir()
	var direct recordsSource
	for i, labels := range parts {
		writeTrainingSet(t, filepath.Join(dir, "part-"+string(rune('0'+i))+".parquet"),
			store, pitLabelNames, labels)
		rec, err := pit.Build(context.Background(), store, pitLabelNames, labels, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Release()
		direct = append(direct, rec)
	}
	// A writer's temporary file is not part of the set.
	if err := os.WriteFile(filepath.Join(dir, ".part-2.parquet.tmp"), []byte("x"),
		0o644); err != nil {
		t.Fatal(err)
	}

	want, err := training.DatasetsFromRecords(context.Background(), direct)
	if err != nil {
		t.Fatal(err)
	}
	src, err := training.OpenParquetSource(dir, &training.ParquetOptions{BatchRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Files()) != 2 {
		t.Fatalf("files %v, want the two parts", src.Files())
	}
	got, err := training.DatasetsFromRecords(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want *training.Dataset
	}{{"sweat", got.Sweat, want.Sweat}, {"thermal", got.Thermal, want.Thermal},
		{"anomaly", got.Anomaly, want.Anomaly}} {
		if c.want == nil || c.want.Rows() == 0 {
			t.Fatalf("%s: the direct build has no rows", c.name)
		}
		sameDataset(t, c.name, c.got, c.want)
	}
	// Every label with a sweat rate is a row of the sweat family.
	sweatRows := 0
	for _, p := range parts {
		for _, l := range p {
			if !math.IsNaN(l.Values[0]) {
				sweatRows++
			}
		}
	}
	if got.Sweat.Rows() != sweatRows {
		t.Errorf("sweat dataset of %d rows, want %d", got.Sweat.Rows(), sweatRows)
	}
	if len(src.Fingerprint()) != 64 {
		t.Errorf("fingerprint %q after a full pass, want a SHA-256", src.Fingerprint())
	}
}

// sameDataset fails unless got has want's rows, values (NaN matching NaN),
// athletes and timelines.
func sameDataset(t *testing.T, name string, got, want *training.Dataset) {
	t.Helper()
	if got == nil || got.Rows() != want.Rows() {
		t.Fatalf("%s: got %v, want %d rows", name, got, want.Rows())
	}
	for _, m := range []struct {
		what      string
		got, want *mat.Dense
	}{{"features", got.X, want.X}, {"labels", got.Y, want.Y},
		{"baselines", got.Baseline, want.Baseline}} {
		if !mat.EqualApprox(nanToInf(m.got), nanToInf(m.want), 0) {
			t.Errorf("%s: %s differ", name, m.what)
		}
	}
	for i := range want.Rows() {
		if got.Athletes[i] != want.Athletes[i] || got.When[i] != want.When[i] {
			t.Fatalf("%s: row %d is %s %v, want %s %v", name, i, got.Athletes[i],
				got.When[i], want.Athletes[i], want.When[i])
		}
	}
}

// nanToInf returns a copy of m with NaN replaced by +Inf, which compares equal to
// itself.
func nanToInf(m *mat.Dense) *mat.Dense {
	var c mat.Dense
	c.Apply(func(_, _ int, v float64) float64 {
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		return v
	}, m)
	return &c
}

// pass reads every batch of src, retained; the caller releases them.
func pass(t *testing.T, src training.RecordSource) []arrow.Record {
	t.Helper()
	var recs []arrow.Record
	for rec, err := range src.Records(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		rec.Retain()
		recs = append(recs, rec)
	}
	return recs
}

func TestParquetSourcePasses(t *testing.T) {
	store := smallStore(t)
	path := filepath.Join(t.TempDir(), "set.parquet")
	writeTrainingSet(t, path, store, pitLabelNames, pitLabels(1, 60))
	src, err := training.OpenParquetSource(path, &training.ParquetOptions{BatchRows: 16})
	if err != nil {
		t.Fatal(err)
	}
	if src.Fingerprint() != "" {
		t.Errorf("fingerprint %q before any pass", src.Fingerprint())
	}

	first := pass(t, src)
	fingerprint := src.Fingerprint()
	// A pass stopped early leaves the fingerprint as it was.
	for range src.Records(context.Background()) {
		break
	}
	second := pass(t, src)
	if len(first) < 2 || len(first) != len(second) {
		t.Fatalf("passes of %d and %d batches, want equal and several", len(first),
			len(second))
	}
	for i := range first {
		if !array.RecordEqual(first[i], second[i]) {
			t.Errorf("batch %d differs between passes", i)
		}
		if first[i].Schema().HasField("heart_rate_bpm_mean_5m_status") ||
			!first[i].Schema().HasField("heart_rate_bpm_mean_5m") {
			t.Errorf("batch %d has columns %s", i, first[i].Schema())
		}
		first[i].Release()
		second[i].Release()
	}
	if fingerprint == "" || src.Fingerprint() != fingerprint {
		t.Errorf("fingerprints %q then %q, want equal", fingerprint, src.Fingerprint())
	}

	// Other bytes under the same name fail the next pass, once the file is read.
	writeTrainingSet(t, path, store, pitLabelNames, pitLabels(1, 30))
	rows := 0
	var passErr error
	for rec, err := range src.Records(context.Background()) {
		if err != nil {
			passErr = err
			break
		}
		rows += int(rec.NumRows())
	}
	if !errors.Is(passErr, training.ErrTrainingSetChanged) {
		t.Errorf("pass over a changed file: %d rows, error %v", rows, passErr)
	}
	if src.Fingerprint() != fingerprint {
		t.Error("a failed pass changed the fingerprint")
	}
}

func TestParquetSourceFingerprintNamesTheData(t *testing.T) {
	store := smallStore(t)
	dir := t.TempDir()
	fingerprint := func(name string, labels []pit.Label) string {
		path := filepath.Join(dir, name)
		writeTrainingSet(t, path, store, pitLabelNames, labels)
		defer os.Remove(path)
		src, err := training.OpenParquetSource(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pass(t, src) {
			r.Release()
		}
		return src.Fingerprint()
	}
	a := fingerprint("a.parquet", pitLabels(1, 30))
	if again := fingerprint("a.parquet", pitLabels(1, 30)); again != a {
		t.Errorf("the same file gave fingerprints %s and %s", a, again)
	}
	if b := fingerprint("b.parquet", pitLabels(1, 30)); b == a {
		t.Error("another file name gave the same fingerprint")
	}
	if c := fingerprint("a.parquet", pitLabels(1, 33)); c == a {
		t.Error("other rows gave the same fingerprint")
	}
}

// TestParquetSourceFingerprintDefinition pins the fingerprint of a folder to what
// the documentation says it is, the SHA-256 of each file's name and bytes in name
// order (each preceded by its length), so that run ids stay stable across
// versions; and checks that a change to a later file of the folder fails the pass
// and names that file.
func TestParquetSourceFingerprintDefinition(t *testing.T) {
	store := smallStore(t)
	dir := t.TempDir()
	writeTrainingSet(t, filepath.Join(dir, "a.parquet"), store, pitLabelNames,
		pitLabels(1, 20))
	writeTrainingSet(t, filepath.Join(dir, "b.parquet"), store, pitLabelNames,
		pitLabels(1, 30))
	want := sha256.New()
	for _, name := range []string{"a.parquet", "b.parquet"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want.Write(binary.BigEndian.AppendUint64(nil, uint64(len(name))))
		want.Write([]byte(name))
		want.Write(binary.BigEndian.AppendUint64(nil, uint64(len(data))))
		want.Write(data)
	}

	src, err := training.OpenParquetSource(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range pass(t, src) {
		r.Release()
	}
	if got := src.Fingerprint(); got != hex.EncodeToString(want.Sum(nil)) {
		t.Errorf("fingerprint %s, want %x", got, want.Sum(nil))
	}

	writeTrainingSet(t, filepath.Join(dir, "b.parquet"), store, pitLabelNames,
		pitLabels(1, 33))
	var passErr error
	for _, err := range src.Records(context.Background()) {
		if err != nil {
			passErr = err
			break
		}
	}
	if !errors.Is(passErr, training.ErrTrainingSetChanged) ||
		!strings.Contains(passErr.Error(), "b.parquet") {
		t.Errorf("pass over a changed second file: error %v, want %v naming b.parquet",
			passErr, training.ErrTrainingSetChanged)
	}
}

func TestParquetSourceRefuses(t *testing.T) {
	store := smallStore(t)
	dir := t.TempDir()
	labels := pitLabels(1, 10)
	noLabels := make([]pit.Label, len(labels))
	for i, l := range labels {
		noLabels[i] = pit.Label{AthleteID: l.AthleteID, Time: l.Time, Values: l.Values[1:2]}
	}
	writeTrainingSet(t, filepath.Join(dir, "baseline-only.parquet"), store,
		[]string{training.LabelSweatBaseline}, noLabels)
	noAsOf := filepath.Join(dir, "no-as-of.parquet")
	writeFile(t, noAsOf, arrow.NewSchema([]arrow.Field{
		{Name: training.ColumnAthlete, Type: arrow.BinaryTypes.String},
		{Name: models.OutSweatRate, Type: arrow.PrimitiveTypes.Float64}}, nil))
	badAthlete := filepath.Join(dir, "int-athlete.parquet")
	writeFile(t, badAthlete, arrow.NewSchema([]arrow.Field{
		{Name: training.ColumnAthlete, Type: arrow.PrimitiveTypes.Int64},
		{Name: training.ColumnAsOf, Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: training.LabelFault, Type: arrow.PrimitiveTypes.Float64}}, nil))
	damaged := filepath.Join(dir, "cut.parquet")
	good, err := os.ReadFile(noAsOf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()

	cases := []struct {
		path string
		is   error
		want []string
	}{
		{filepath.Join(dir, "baseline-only.parquet"), training.ErrTrainingSet,
			[]string{"baseline-only.parquet", "no label column", models.OutSweatRate}},
		{noAsOf, training.ErrTrainingSet, []string{"no-as-of.parquet", "no column as_of"}},
		{badAthlete, training.ErrTrainingSet, []string{"int-athlete.parquet",
			"athlete_id is int64"}},
		{damaged, offline.ErrDamaged, []string{"cut.parquet"}},
		{empty, training.ErrTrainingSet, []string{"no .parquet file"}},
		{dir, nil, []string{"baseline-only.parquet"}}, // the first file in name order
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			_, err := training.OpenParquetSource(c.path, nil)
			if err == nil || c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("error %v, want one wrapping %v", err, c.is)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// writeFile writes an empty table of schema sc as a Parquet file.
func writeFile(t *testing.T, path string, sc *arrow.Schema) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = offline.WriteParquet(f, sc, nil, 0, func(func(arrow.Record) error) error {
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
