package training

import (
	"context"
	"errors"
	"iter"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/models"
)

// memorySource serves records from memory, as a test double of BigQuery.
type memorySource struct{ recs []arrow.Record }

func (m *memorySource) Records(context.Context) iter.Seq2[arrow.Record, error] {
	return func(yield func(arrow.Record, error) bool) {
		for _, r := range m.recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func (m *memorySource) Fingerprint() string { return "00" }

// TrainingSetRecord writes the rows of d as a training-set record: identity
// columns, the family's features and its labels under their column names.
func trainingSetRecord(t testing.TB, d *Dataset, labels []string) arrow.Record {
	t.Helper()
	fields := []arrow.Field{
		{Name: ColumnAthlete, Type: arrow.BinaryTypes.String},
		{Name: ColumnAsOf, Type: &arrow.TimestampType{Unit: arrow.Microsecond,
			TimeZone: "UTC"}},
		{Name: ColumnSession, Type: arrow.BinaryTypes.String},
	}
	for _, name := range append(append([]string(nil), d.Family.Features...), labels...) {
		fields = append(fields, arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64,
			Nullable: true})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	t0 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for i := range d.Rows() {
		w := d.When[i]
		b.Field(0).(*array.StringBuilder).Append(d.Athletes[i])
		at := t0.Add(time.Duration(w.Minute) * time.Minute)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
		b.Field(2).(*array.StringBuilder).Append(w.Session)
		vals := append(append([]float64(nil), d.X.RawRowView(i)...), d.Y.RawRowView(i)...)
		if len(labels) > d.Y.RawMatrix().Cols {
			vals = append(vals, d.Baseline.At(i, 0))
		}
		for j, v := range vals {
			fb := b.Field(3 + j).(*array.Float64Builder)
			if math.IsNaN(v) {
				fb.AppendNull()
			} else {
				fb.Append(v)
			}
		}
	}
	return b.NewRecord()
}

func TestDatasetsFromRecords(t *testing.T) {
	_, ds := testDatasets(t)
	sweat := trainingSetRecord(t, ds.Sweat, []string{models.OutSweatRate,
		LabelSweatBaseline})
	defer sweat.Release()
	thermal := trainingSetRecord(t, ds.Thermal, []string{models.OutCoreTemp15m,
		models.OutCoreTemp30m, models.OutCoreTemp60m})
	defer thermal.Release()

	got, err := DatasetsFromRecords(t.Context(), &memorySource{[]arrow.Record{sweat,
		thermal}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Anomaly != nil {
		t.Errorf("anomaly dataset of %d rows from a set without fault labels",
			got.Anomaly.Rows())
	}
	for _, c := range []struct{ got, want *Dataset }{{got.Sweat, ds.Sweat},
		{got.Thermal, ds.Thermal}} {
		if c.got == nil || c.got.Rows() != c.want.Rows() {
			t.Fatalf("%s: got %v rows, want %d", c.want.Family.Name, c.got, c.want.Rows())
		}
		if !sameNaN(c.got.X, c.want.X) || !sameNaN(c.got.Y, c.want.Y) {
			t.Errorf("%s: features or labels differ from the rows written",
				c.want.Family.Name)
		}
	}
	if !sameNaN(got.Sweat.Baseline, ds.Sweat.Baseline) {
		t.Error("sweat baselines differ from the column written")
	}
	// The set carries features as the server gathers them, in float32; the cohort's
	// baseline read the window's float64.
	if !closeNaN(got.Thermal.Baseline, ds.Thermal.Baseline, 1e-6) {
		t.Error("thermal baselines differ from the cohort's")
	}
}

func TestDatasetsFromRecordsRefuses(t *testing.T) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(
		[]arrow.Field{{Name: ColumnAthlete, Type: arrow.PrimitiveTypes.Int64}}, nil))
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(1)
	rec := b.NewRecord()
	defer rec.Release()
	_, err := DatasetsFromRecords(t.Context(), &memorySource{[]arrow.Record{rec}})
	if !errors.Is(err, ErrTrainingSet) {
		t.Errorf("error %v, want ErrTrainingSet", err)
	}
}

// sameNaN reports whether a and b are equal, NaN matching NaN.
func sameNaN(a, b *mat.Dense) bool { return closeNaN(a, b, 0) }

// closeNaN reports whether a and b differ by at most tol relative to b (absolute
// below 1), NaN matching NaN.
func closeNaN(a, b *mat.Dense, tol float64) bool {
	ra, ca := a.Dims()
	rb, cb := b.Dims()
	if ra != rb || ca != cb {
		return false
	}
	for i := range ra {
		for j := range ca {
			x, y := a.At(i, j), b.At(i, j)
			if !(math.Abs(x-y) <= tol*math.Max(1, math.Abs(y))) &&
				!(math.IsNaN(x) && math.IsNaN(y)) {
				return false
			}
		}
	}
	return true
}

func TestRunOnTrainingSet(t *testing.T) {
	_, ds := testDatasets(t)
	sweat := trainingSetRecord(t, ds.Sweat, []string{models.OutSweatRate,
		LabelSweatBaseline})
	defer sweat.Release()
	o := DefaultOptions()
	o.Source = &memorySource{[]arrow.Record{sweat}}
	o.Families = []string{models.SweatRate}
	rep, err := Run(t.Context(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	fr := rep.Families[0]
	if fr.Family != models.SweatRate || rep.Fingerprints.Data != "sha256:00" ||
		fr.Card.TrainedOn != "recorded" || len(rep.TestAthletes) == 0 {
		t.Errorf("report %+v", rep)
	}
	if m := fr.Evaluation.Outputs[0]; !(m.Model.MAE < m.Baseline.MAE) {
		t.Errorf("sweat MAE %v not below the baseline's %v", m.Model.MAE, m.Baseline.MAE)
	}

	o.Families = []string{models.Anomaly}
	if _, err := Run(t.Context(), o, nil); !errors.Is(err, ErrTooFewRows) {
		t.Errorf("anomaly without fault labels: error %v, want ErrTooFewRows", err)
	}
}

// TestDatasetsFromRecordsRefusesValues: a label outside its range and an infinite
// feature are refused, naming the column, not trained on.
func TestDatasetsFromRecordsRefusesValues(t *testing.T) {
	_, ds := testDatasets(t)
	for _, c := range []struct {
		col  int // -1: the label
		v    float64
		want string
	}{{-1, 50, models.OutSweatRate}, {-1, -1, models.OutSweatRate},
		{0, math.Inf(1), ds.Sweat.Family.Features[0]}} {
		d := ds.Sweat.Subset(map[string]bool{ds.Sweat.Athletes[0]: true})
		if c.col < 0 {
			d.Y.Set(3, 0, c.v)
		} else {
			d.X.Set(3, c.col, c.v)
		}
		rec := trainingSetRecord(t, d, []string{models.OutSweatRate, LabelSweatBaseline})
		_, err := DatasetsFromRecords(t.Context(), &memorySource{[]arrow.Record{rec}})
		rec.Release()
		if !errors.Is(err, ErrTrainingSet) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %v: error %v, want ErrTrainingSet naming it", c.want, c.v, err)
		}
	}
}
