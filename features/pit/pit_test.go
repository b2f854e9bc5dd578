package pit_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/pit"
)

// t0 is 40 minutes before midnight UTC: sessions cross a partition boundary.
var t0 = time.Date(2025, 7, 14, 23, 20, 0, 0, time.UTC)

// session returns an athlete's readings every 10 s for the given minutes from
// start: watch heart rate and skin temperature, weather every minute, a drink every
// ten. Most arrive 1–5 s after measurement; one in 25 is backfilled an hour later,
// one in 40 is sent twice with a changed value (the second wins).
func session(rng *rand.Rand, id string, start time.Time, minutes int) []offline.Row {
	var rows []offline.Row
	for i := range minutes * 6 {
		at := start.Add(time.Duration(i) * 10 * time.Second)
		r := offline.Row{Reading: features.NewReading(id, "watch", at)}
		r.Set(features.HeartRate, 110+float64(i%50)+rng.Float64())
		r.Set(features.SkinTemp, 33+float64(i%30)/20)
		if i%60 == 30 {
			r.Set(features.FluidIntake, 150)
		}
		r.IngestTime = at.Add(time.Duration(1+rng.IntN(5)) * time.Second)
		if rng.IntN(25) == 0 {
			r.IngestTime = at.Add(time.Hour)
		}
		rows = append(rows, r)
		if rng.IntN(40) == 0 {
			again := r
			again.Set(features.HeartRate, r.Values[features.HeartRate]+7)
			again.IngestTime = r.IngestTime.Add(20 * time.Second)
			rows = append(rows, again)
		}
		if i%6 == 0 {
			w := offline.Row{Reading: features.NewReading(id, "weather", at),
				IngestTime: at.Add(2 * time.Second)}
			w.Set(features.AmbientTemp, 28+float64(i)/100)
			w.Set(features.Humidity, 55)
			rows = append(rows, w)
		}
	}
	return rows
}

// fixture stores two athletes' sessions in an offline store and returns both.
func fixture(t *testing.T) (*offline.Store, []offline.Row) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	rows := slices.Concat(session(rng, "ann", t0, 90),
		session(rng, "bob", t0.Add(25*time.Minute), 60))
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
	return s, rows
}

// startDateFixture writes the fixture's readings as a writer that files a session
// under its start date would (the simulator does): all in one partition, though
// some were measured after midnight.
func startDateFixture(t *testing.T, rows []offline.Row) *offline.Store {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "readings", "date="+t0.Format(time.DateOnly))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "part-0.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = offline.WriteParquet(f, offline.ReadingsSchema(), nil, 0,
		func(write func(arrow.Record) error) error {
			rec := offline.NewRecord(nil, rows)
			defer rec.Release()
			return write(rec)
		})
	if err != nil {
		t.Fatal(err)
	}
	s, err := offline.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// labelsEvery returns labels of both athletes every few minutes, shuffled.
func labelsEvery(step time.Duration) []pit.Label {
	var ls []pit.Label
	for k, at := 0, t0.Add(-5*time.Minute); at.Before(t0.Add(100 * time.Minute)); k++ {
		for _, id := range []string{"ann", "bob"} {
			ls = append(ls, pit.Label{AthleteID: id, Time: at,
				Values: []float64{float64(k), math.NaN()}})
		}
		at = at.Add(step)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(ls), func(i, j int) { ls[i], ls[j] = ls[j], ls[i] })
	return ls
}

var labelNames = []string{"sweat_rate_l_per_h", "core_temp_c"}

// served computes a label's vector the way the server does: a fresh online store
// ingesting, one by one, the readings visible at the label's time in the order
// they became visible, then asked for the vector.
func served(t *testing.T, rows []offline.Row, l pit.Label, asIngested bool) *features.Vector {
	t.Helper()
	visible := func(r *offline.Row) time.Time {
		if asIngested && r.IngestTime.After(r.Time) {
			return r.IngestTime
		}
		return r.Time
	}
	var mine []offline.Row
	for _, r := range rows {
		if r.AthleteID == l.AthleteID && !visible(&r).After(l.Time) {
			mine = append(mine, r)
		}
	}
	slices.SortStableFunc(mine, func(a, b offline.Row) int {
		return cmp.Or(visible(&a).Compare(visible(&b)), a.Time.Compare(b.Time))
	})

	ctx := context.Background()
	store := features.NewStore(nil)
	for _, r := range mine {
		store.Ingest(ctx, r.Reading) // late and rejected readings are the store's business
	}
	v := features.NewVector()
	if err := store.Vector(ctx, l.AthleteID, l.Time, v); err != nil &&
		!errors.Is(err, features.ErrUnknownAthlete) {
		t.Fatal(err)
	}
	return v
}

// rowsOf reads a training set back into vectors and label values.
func rowsOf(t *testing.T, rec arrow.Record) ([]*features.Vector, [][]float64) {
	t.Helper()
	vs, err := features.ReadRecord(rec)
	if err != nil {
		t.Fatalf("ReadRecord: %v", err)
	}
	labels := make([][]float64, rec.NumRows())
	for _, name := range labelNames {
		col := rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.Float64)
		for i := range labels {
			v := math.NaN()
			if col.IsValid(i) {
				v = col.Value(i)
			}
			labels[i] = append(labels[i], v)
		}
	}
	return vs, labels
}

// sameVector fails at the first feature whose value or status differs.
func sameVector(t *testing.T, what string, got, want *features.Vector) {
	t.Helper()
	sc := features.CurrentSchema()
	for i := range want.Values {
		g, w := got.Values[i], want.Values[i]
		if got.Status[i] != want.Status[i] || (g != w && !(math.IsNaN(g) && math.IsNaN(w))) {
			t.Fatalf("%s: %s is %v (%v), served %v (%v)", what, sc.Feature(i).Name,
				g, got.Status[i], w, want.Status[i])
		}
	}
}

// TestMatchesServing checks every label's vector against what an online store fed
// the same readings computes, in both modes.
func TestMatchesServing(t *testing.T) {
	s, rows := fixture(t)
	stores := map[string]*offline.Store{"by event date": s,
		"by session start": startDateFixture(t, rows)}
	labels := labelsEvery(3 * time.Minute)
	for layout, s := range stores {
		for _, asIngested := range []bool{false, true} {
			name := layout + ", " +
				map[bool]string{false: "event order", true: "as ingested"}[asIngested]
			t.Run(name, func(t *testing.T) {
				testMatchesServing(t, s, rows, labels, asIngested)
			})
		}
	}
}

func testMatchesServing(t *testing.T, s *offline.Store, rows []offline.Row,
	labels []pit.Label, asIngested bool) {
	t.Helper()
	rec, err := pit.Build(context.Background(), s, labelNames, labels,
		&pit.Options{AsIngested: asIngested})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != int64(len(labels)) {
		t.Fatalf("%d rows for %d labels", rec.NumRows(), len(labels))
	}

	vs, values := rowsOf(t, rec)
	want := slices.Clone(labels)
	slices.SortStableFunc(want, func(a, b pit.Label) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.AthleteID, b.AthleteID))
	})
	present := 0
	for i, l := range want {
		v := vs[i]
		if v.AthleteID != l.AthleteID || !v.AsOf.Equal(l.Time) {
			t.Fatalf("row %d is %s at %s, want %s at %s", i, v.AthleteID, v.AsOf,
				l.AthleteID, l.Time)
		}
		if values[i][0] != l.Values[0] || !math.IsNaN(values[i][1]) {
			t.Fatalf("row %d labels %v, want %v", i, values[i], l.Values)
		}
		sameVector(t, l.AthleteID+" at "+l.Time.Format(time.TimeOnly), v,
			served(t, rows, l, asIngested))
		if v.Status[0] == features.StatusPresent {
			present++
		}
	}
	// A check that passes on empty vectors proves nothing.
	if present < len(labels)/2 {
		t.Fatalf("only %d of %d labels have features", present, len(labels))
	}
}

// reading is one watch reading of the leak tests.
func reading(at, ingest time.Time, hr float64) offline.Row {
	r := offline.Row{Reading: features.NewReading("ann", "watch", at), IngestTime: ingest}
	r.Set(features.HeartRate, hr)
	return r
}

// TestNoLeak checks that nothing after a label's time reaches it: a reading measured
// later never does, and a backfill that arrived later does not with AsIngested.
func TestNoLeak(t *testing.T) {
	label := t0.Add(10 * time.Minute)
	var base []offline.Row
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Minute)
		base = append(base, reading(at, at.Add(time.Second), 120+float64(i)))
	}
	// base: heart rate 120…129 at t0+0…9 min; the last before the label is 129.

	tests := []struct {
		name       string
		extra      offline.Row
		asIngested bool
		wantLast   float64 // heart_rate_bpm_last at the label
		wantCount  float64 // heart_rate_bpm_count_15m at the label
	}{
		{"measured after, event order",
			reading(label.Add(time.Minute), label.Add(61*time.Second), 200), false, 129, 10},
		{"measured after, as ingested",
			reading(label.Add(time.Minute), label.Add(61*time.Second), 200), true, 129, 10},
		{"measured at the label's instant",
			reading(label, label.Add(time.Second), 200), false, 200, 11},
		{"backfilled after, event order",
			reading(label.Add(-30*time.Second), label.Add(time.Hour), 190), false, 190, 11},
		{"backfilled after, as ingested",
			reading(label.Add(-30*time.Second), label.Add(time.Hour), 190), true, 129, 10},
		{"backfilled before, as ingested",
			reading(label.Add(-30*time.Second), label.Add(-time.Second), 190), true, 190, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := offline.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Append(context.Background(), append(slices.Clone(base),
				tt.extra)...); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// A second label two hours later sees the extra reading as the athlete's
			// last heart rate in every mode, which shows it is in the store.
			labels := []pit.Label{
				{AthleteID: "ann", Time: label, Values: []float64{1, 2}},
				{AthleteID: "ann", Time: label.Add(2 * time.Hour), Values: []float64{1, 2}},
			}
			rec, err := pit.Build(context.Background(), s, labelNames, labels,
				&pit.Options{AsIngested: tt.asIngested})
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			vs, _ := rowsOf(t, rec)

			last, _, _ := vs[0].Get("heart_rate_bpm_last")
			count, _, _ := vs[0].Get("heart_rate_bpm_count_15m")
			if last != tt.wantLast || count != tt.wantCount {
				t.Fatalf("at the label: last %v count %v, want %v and %v", last, count,
					tt.wantLast, tt.wantCount)
			}
			extra := tt.extra.Values[features.HeartRate]
			if later, _, _ := vs[1].Get("heart_rate_bpm_last"); later != extra {
				t.Fatalf("two hours later the last heart rate is %v, want %v", later, extra)
			}
		})
	}
}

func TestUnknownAthleteGetsMissingFeatures(t *testing.T) {
	s, _ := fixture(t)
	labels := []pit.Label{{AthleteID: "nobody", Time: t0.Add(30 * time.Minute),
		Values: []float64{0.8, 38.1}}}
	rec, err := pit.Build(context.Background(), s, labelNames, labels, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	vs, values := rowsOf(t, rec)
	if len(vs) != 1 || vs[0].AthleteID != "nobody" {
		t.Fatalf("rows %v", vs)
	}
	for i, st := range vs[0].Status {
		if st != features.StatusMissing {
			t.Fatalf("feature %d is %v, want missing", i, st)
		}
	}
	if !slices.Equal(values[0], labels[0].Values) {
		t.Fatalf("labels %v, want %v", values[0], labels[0].Values)
	}

	// WriteParquet counts such rows, so that a set of them can be warned about.
	known := pit.Label{AthleteID: "ann", Time: t0.Add(30 * time.Minute),
		Values: []float64{1, math.NaN()}}
	written, err := pit.WriteParquet(context.Background(), io.Discard, s, labelNames,
		append(labels, known), nil)
	if err != nil {
		t.Fatal(err)
	}
	if written != (pit.Written{Rows: 2, WithoutReadings: 1}) {
		t.Errorf("written %+v, want 2 rows of which 1 without readings", written)
	}
}

func TestInvalidInput(t *testing.T) {
	good := pit.Label{AthleteID: "ann", Time: t0, Values: []float64{1}}
	tests := []struct {
		name   string
		names  []string
		labels []pit.Label
		want   error
	}{
		{"repeated name", []string{"y", "y"}, nil, pit.ErrLabelNames},
		{"empty name", []string{""}, nil, pit.ErrLabelNames},
		{"feature name", []string{"heart_rate_bpm_last"}, nil, pit.ErrLabelNames},
		{"identity column", []string{"athlete_id"}, nil, pit.ErrLabelNames},
		{"too few values", []string{"y", "z"}, []pit.Label{good}, pit.ErrInvalidLabel},
		{"no athlete", []string{"y"}, []pit.Label{{Time: t0, Values: []float64{1}}},
			pit.ErrInvalidLabel},
		{"no time", []string{"y"}, []pit.Label{{AthleteID: "a", Values: []float64{1}}},
			pit.ErrInvalidLabel},
	}
	s, err := offline.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pit.Build(context.Background(), s, tt.names, tt.labels, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestWriteParquet checks that the Parquet file holds what Build returns, with the
// metadata that says how it was built.
func TestWriteParquet(t *testing.T) {
	s, _ := fixture(t)
	labels := labelsEvery(7 * time.Minute)
	opts := &pit.Options{AsIngested: true}
	ctx := context.Background()

	want, err := pit.Build(ctx, s, labelNames, labels, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	var buf bytes.Buffer
	written, err := pit.WriteParquet(ctx, &buf, s, labelNames, labels, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := written.Rows; n != int64(len(labels)) {
		t.Fatalf("wrote %d rows, want %d", n, len(labels))
	}

	pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	kv := pf.MetaData().KeyValueMetadata()
	if v := kv.FindValue(pit.MetaAsIngested); v == nil || *v != "true" {
		t.Fatalf("%s = %v, want true", pit.MetaAsIngested, v)
	}
	// Labels are written plain, features with a dictionary.
	for c := range pf.MetaData().Schema.NumColumns() {
		name := pf.MetaData().Schema.Column(c).Name()
		cc, err := pf.MetaData().RowGroup(0).ColumnChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		if label := slices.Contains(labelNames, name); cc.HasDictionaryPage() == label {
			t.Errorf("column %s (label %v): dictionary page %v", name, label,
				cc.HasDictionaryPage())
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 20},
		memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatalf("no rows: %v", rr.Err())
	}
	// Arrow's Go reader leaves the schema metadata off the batches; the file
	// schema has it.
	sc, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sc.Metadata().Keys(), want.Schema().Metadata().Keys()) {
		t.Fatalf("file metadata %v, want %v", sc.Metadata(), want.Schema().Metadata())
	}
	got := array.NewRecord(sc, rr.Record().Columns(), rr.Record().NumRows())
	defer got.Release()

	gv, gl := rowsOf(t, got)
	wv, wl := rowsOf(t, want)
	if len(gv) != len(wv) {
		t.Fatalf("file has %d rows, Build %d", len(gv), len(wv))
	}
	for i := range wv {
		sameVector(t, "row "+wv[i].AthleteID, gv[i], wv[i])
		if gl[i][0] != wl[i][0] {
			t.Fatalf("row %d label %v, want %v", i, gl[i], wl[i])
		}
	}
}

// TestModesDiffer shows that the fixture's backfills matter: some labels' features
// differ between event order and as ingested, so TestMatchesServing tells the
// modes apart.
func TestModesDiffer(t *testing.T) {
	s, _ := fixture(t)
	labels := labelsEvery(3 * time.Minute)
	ctx := context.Background()
	var vs [2][]*features.Vector
	for k, asIngested := range []bool{false, true} {
		rec, err := pit.Build(ctx, s, labelNames, labels, &pit.Options{AsIngested: asIngested})
		if err != nil {
			t.Fatal(err)
		}
		vs[k], _ = rowsOf(t, rec)
		rec.Release()
	}
	differ := 0
	for i := range vs[0] {
		if !slices.Equal(vs[0][i].Status, vs[1][i].Status) ||
			!slices.EqualFunc(vs[0][i].Values, vs[1][i].Values, func(a, b float64) bool {
				return a == b || (math.IsNaN(a) && math.IsNaN(b))
			}) {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("no label differs between event order and as ingested")
	}
	t.Logf("%d of %d labels differ", differ, len(vs[0]))
}

// BenchmarkBuild measures building a training set: 20 athletes with 90-minute
// sessions of readings every 10 s, a label every 5 minutes each.
func BenchmarkBuild(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	var rows []offline.Row
	var labels []pit.Label
	for a := range 20 {
		id := "athlete-" + string(rune('a'+a))
		rows = append(rows, session(rng, id, t0, 90)...)
		for m := 5; m <= 90; m += 5 {
			labels = append(labels, pit.Label{AthleteID: id,
				Time: t0.Add(time.Duration(m) * time.Minute), Values: []float64{1, 2}})
		}
	}
	s, err := offline.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Append(context.Background(), rows...); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		rec, err := pit.Build(context.Background(), s, labelNames, labels, nil)
		if err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "readings/s")
}
