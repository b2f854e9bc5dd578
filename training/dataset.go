package training

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
)

// Dataset is one family's table of examples: one row per feature vector taken from a
// replayed session, with its labels and what the family's physiology baseline
// predicts for it.
type Dataset struct {
	Family models.Family

	// X holds the feature values (rows × len(Family.Features)) as the server gathers
	// them, rounded to float32; NaN where the feature was missing. A stale feature
	// keeps its last value, as it does in serving.
	X *mat.Dense
	// Y holds the labels, one column per predicted quantity (the sweat family's
	// interval bounds have none); NaN where a row has no label for that column. The
	// anomaly family's single label is 1 for a fault, else 0.
	Y *mat.Dense
	// Baseline holds the baseline's prediction for each label, in the label's unit.
	Baseline *mat.Dense

	// Athletes and When say whose session and which minute of it each row describes.
	Athletes []string
	When     []Timeline
}

// Rows returns the number of examples.
func (d *Dataset) Rows() int { return len(d.Athletes) }

// Subset returns the rows of d whose athlete is in keep, in their order.
func (d *Dataset) Subset(keep map[string]bool) *Dataset {
	var rows []int
	for i, a := range d.Athletes {
		if keep[a] {
			rows = append(rows, i)
		}
	}
	out := &Dataset{Family: d.Family, Athletes: make([]string, len(rows)),
		When: make([]Timeline, len(rows))}
	out.X, out.Y, out.Baseline = pickRows(d.X, rows), pickRows(d.Y, rows),
		pickRows(d.Baseline, rows)
	for r, i := range rows {
		out.Athletes[r], out.When[r] = d.Athletes[i], d.When[i]
	}
	return out
}

// pickRows returns the given rows of m as a new matrix; nil when there are none,
// since gonum has no empty matrices.
func pickRows(m *mat.Dense, rows []int) *mat.Dense {
	if len(rows) == 0 {
		return nil
	}
	_, c := m.Dims()
	out := mat.NewDense(len(rows), c, nil)
	for r, i := range rows {
		out.SetRow(r, m.RawRowView(i))
	}
	return out
}

// table accumulates a dataset's rows before they become matrices.
type table struct {
	family   models.Family
	idx      []int // schema positions of the family's features
	x, y, b  []float64
	athletes []string
	when     []Timeline
	gather   []float32
}

func newTable(f models.Family) (*table, error) {
	idx, err := features.CurrentSchema().Indices(f.Features)
	if err != nil {
		return nil, fmt.Errorf("family %s: %w", f.Name, err)
	}
	return &table{family: f, idx: idx, gather: make([]float32, len(idx))}, nil
}

// add appends the row of vector v with its labels and baseline predictions.
func (t *table) add(v *features.Vector, labels, baseline []float64, when Timeline) {
	features.Gather(v, t.idx, t.gather)
	for _, g := range t.gather {
		t.x = append(t.x, float64(g))
	}
	t.y = append(t.y, labels...)
	t.b = append(t.b, baseline...)
	t.athletes = append(t.athletes, v.AthleteID)
	t.when = append(t.when, when)
}

// appendTable appends the rows of o, which describes the same family.
func (t *table) appendTable(o *table) {
	t.x = append(t.x, o.x...)
	t.y = append(t.y, o.y...)
	t.b = append(t.b, o.b...)
	t.athletes = append(t.athletes, o.athletes...)
	t.when = append(t.when, o.when...)
}

// dataset turns the table into a Dataset; it fails when the table has no rows.
func (t *table) dataset() (*Dataset, error) {
	n := len(t.athletes)
	if n == 0 {
		return nil, fmt.Errorf("family %s: %w", t.family.Name, ErrTooFewRows)
	}
	k, m := len(t.family.Features), len(t.y)/n
	return &Dataset{
		Family:   t.family,
		X:        mat.NewDense(n, k, t.x),
		Y:        mat.NewDense(n, m, t.y),
		Baseline: mat.NewDense(n, m, t.b),
		Athletes: t.athletes,
		When:     t.when,
	}, nil
}

// value returns feature name of v, NaN when the vector lacks it.
func value(v *features.Vector, name string) float64 {
	x, st, ok := v.Get(name)
	if !ok || st == features.StatusMissing {
		return math.NaN()
	}
	return x
}

// minuteOf returns the whole minutes from start to t.
func minuteOf(start, t time.Time) int { return int(t.Sub(start) / time.Minute) }

// colOf returns column j of m.
func colOf(m *mat.Dense, j int) []float64 { return mat.Col(nil, j, m) }

// join returns a new table with the rows of t, then those of o.
func (t *table) join(o *table) *table {
	out := &table{family: t.family, idx: t.idx, gather: make([]float32, len(t.idx))}
	out.appendTable(t)
	out.appendTable(o)
	return out
}
