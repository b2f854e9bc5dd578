package training

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
)

// Columns of a training set besides the features, which are named as in the feature
// schema. A row is one labelled instant of one athlete: the feature vector serving
// had then, and the labels known later.
const (
	ColumnAthlete = "athlete_id" // utf8, required
	ColumnAsOf    = "as_of"      // timestamp, required
	// ColumnSession groups an athlete's rows into sessions for the anomaly family's
	// fault events; without it, rows group by athlete and UTC day.
	ColumnSession = "session_id"
	// LabelSweatBaseline is the physiology baseline's sweat rate for the row's
	// session (L/h), which needs the whole session's weather and effort; without it
	// the sweat family has no baseline to be compared with.
	LabelSweatBaseline = "baseline_sweat_rate_l_per_h"
	// LabelFault is 1 (or true) when a sensor fault touched the last five minutes.
	LabelFault = "sensor_fault"
)

// The sweat family's label is the column models.OutSweatRate and the thermal
// family's are models.OutCoreTemp15m, 30m and 60m; a row joins a family's dataset
// when one of its labels is present.

// ErrTrainingSet means a training-set record lacks a required column or has one of
// an unusable type.
var ErrTrainingSet = errors.New("invalid training set")

// RecordSource supplies a training set as Arrow record batches, streamed: Records
// yields each batch once and releases it after yield returns, so memory holds one
// batch at a time. Fingerprint identifies the data that was streamed, as lowercase
// hex (a SHA-256), and is valid once Records has been read to the end.
//
// Training may read the set in several passes to keep memory bounded, so Records
// must be callable more than once: each call streams the whole set again from the
// start, in the same order. Fingerprint is valid after the first complete pass and
// the same after every later one; a source whose data changed between passes must
// fail the pass with an error rather than stream other rows.
type RecordSource interface {
	Records(ctx context.Context) iter.Seq2[arrow.Record, error]
	Fingerprint() string
}

// DatasetsFromRecords builds the three families' datasets from a training set, a
// batch at a time. Baselines are computed from the row's features as serving
// would (flat ECTemp core temperature, the anomaly rule), except the sweat
// baseline, read from LabelSweatBaseline.
func DatasetsFromRecords(ctx context.Context, src RecordSource) (Datasets, error) {
	tabs, err := newFamilyTables()
	if err != nil {
		return Datasets{}, err
	}
	if _, err := readPass(ctx, src, tabs.sinks(), nil); err != nil {
		return Datasets{}, err
	}
	return tabs.datasets()
}

// datasets turns the tables into the families' datasets. A training set may label
// some families only; Run refuses to train a family whose dataset is nil.
func (tabs *familyTables) datasets() (Datasets, error) {
	var d Datasets
	var err error
	for _, f := range []struct {
		t   *table
		dst **Dataset
	}{{tabs.sweat, &d.Sweat}, {tabs.thermal, &d.Thermal}, {tabs.anomaly, &d.Anomaly}} {
		if len(f.t.athletes) == 0 {
			continue
		}
		if *f.dst, err = f.t.dataset(); err != nil {
			return Datasets{}, err
		}
	}
	return d, nil
}

// sinks routes rows into the tables.
func (tabs *familyTables) sinks() familySinks {
	return familySinks{tabs.sweat, tabs.thermal, tabs.anomaly}
}

// rowSink receives one family's rows as a training set is read: the row's feature
// vector, its labels, the baseline's predictions of them and when it was taken.
type rowSink interface {
	add(v *features.Vector, labels, baseline []float64, when Timeline)
}

// familySinks are the three families' sinks; a nil one skips its family.
type familySinks struct{ sweat, thermal, anomaly rowSink }

// addRecord passes the rows of one batch to the families' sinks.
func addRecord(t familySinks, rec arrow.Record, v *features.Vector) error {
	cols, err := trainingColumns(rec)
	if err != nil {
		return err
	}
	sweat, sweatBase := cols.labels[models.OutSweatRate], cols.labels[LabelSweatBaseline]
	fault := cols.labels[LabelFault]
	var core [3]func(int) float64
	for h, name := range []string{models.OutCoreTemp15m, models.OutCoreTemp30m,
		models.OutCoreTemp60m} {
		core[h] = cols.labels[name]
	}
	var one, oneBase [1]float64
	var labels, baseline [3]float64
	var athlete string
	for i := range int(rec.NumRows()) {
		if cols.athlete.IsNull(i) || cols.asOf.IsNull(i) {
			return fmt.Errorf("%w: row without %s or %s", ErrTrainingSet, ColumnAthlete,
				ColumnAsOf)
		}
		// The column's strings share the batch's buffer; a copy made once per run of
		// an athlete's rows lets sinks keep it without keeping the batch.
		if id := cols.athlete.Value(i); id == "" {
			return fmt.Errorf("%w: a row with an empty %s", ErrTrainingSet, ColumnAthlete)
		} else if id != athlete {
			athlete = strings.Clone(id)
		}
		asOf := cols.asOf.Value(i).ToTime(cols.unit)
		// Every row of a batch sets the same features, so after the first row's full
		// reset only those need clearing.
		if i == 0 {
			v.Reset(athlete, asOf)
		} else {
			v.AthleteID, v.AsOf = athlete, asOf
		}
		for k, c := range cols.features {
			j := cols.featureIdx[k]
			x := c(i)
			if math.IsInf(x, 0) {
				return rowError(athlete, asOf, cols.featureName(k), x, "a finite number")
			}
			if !math.IsNaN(x) {
				v.Values[j], v.Status[j] = x, features.StatusPresent
			} else {
				v.Values[j], v.Status[j] = x, features.StatusMissing
			}
		}
		when := Timeline{Session: cols.session(i, athlete, asOf),
			Minute: int(asOf.Unix() / 60)}

		if err := checkLabels(cols, i, athlete, asOf); err != nil {
			return err
		}
		if t.sweat != nil && sweat != nil {
			if one[0] = sweat(i); !math.IsNaN(one[0]) {
				oneBase[0] = math.NaN()
				if sweatBase != nil {
					oneBase[0] = sweatBase(i)
				}
				t.sweat.add(v, one[:], oneBase[:], when)
			}
		}
		if t.thermal != nil {
			labelled := false
			for h, get := range core {
				labels[h] = math.NaN()
				if get != nil {
					labels[h] = get(i)
				}
				labelled = labelled || !math.IsNaN(labels[h])
			}
			if labelled {
				flat := FlatCoreTemp(v)
				baseline = [3]float64{flat, flat, flat}
				t.thermal.add(v, labels[:], baseline[:], when)
			}
		}
		if t.anomaly != nil && fault != nil {
			if y := fault(i); !math.IsNaN(y) {
				one[0], oneBase[0] = min(y, 1), RuleAnomalyScore(v)
				t.anomaly.add(v, one[:], oneBase[:], when)
			}
		}
	}
	return nil
}

// labelRanges bound the labels a training set may hold: a value outside is a unit
// or entry mistake that would train a model on nonsense.
var labelRanges = []struct {
	name     string
	min, max float64
}{
	{models.OutSweatRate, 0, 10}, {LabelSweatBaseline, 0, 10},
	{models.OutCoreTemp15m, 30, 45}, {models.OutCoreTemp30m, 30, 45},
	{models.OutCoreTemp60m, 30, 45}, {LabelFault, 0, 1},
}

// isLabel reports whether name is a label column training reads.
func isLabel(name string) bool {
	for _, r := range labelRanges {
		if r.name == name {
			return true
		}
	}
	return false
}

// LabelWant says what a value of label column name must be, and whether v is one:
// within the label's range, and 0 or 1 for a sensor fault. NaN, a missing label,
// passes. A name that is no label column passes too. hydrocast trainingset checks
// its labels with it, so that a set it writes is one training reads.
func LabelWant(name string, v float64) (want string, ok bool) {
	if math.IsNaN(v) {
		return "", true
	}
	for _, r := range labelRanges {
		if r.name != name {
			continue
		}
		if name == LabelFault {
			return "0 or 1", v == 0 || v == 1
		}
		return fmt.Sprintf("a value in [%g, %g]", r.min, r.max), v >= r.min && v <= r.max
	}
	return "", true
}

// checkLabels refuses a label of row i outside its range, or infinite.
func checkLabels(cols *trainingCols, i int, athlete string, asOf time.Time) error {
	for _, r := range labelRanges {
		get := cols.labels[r.name]
		if get == nil {
			continue
		}
		y := get(i)
		if want, ok := LabelWant(r.name, y); !ok {
			return rowError(athlete, asOf, r.name, y, want)
		}
	}
	return nil
}

// rowError names the row, column and value a training set holds wrongly.
func rowError(athlete string, asOf time.Time, column string, v float64,
	want string) error {
	return fmt.Errorf("%w: athlete %s at %s: column %s is %v, want %s", ErrTrainingSet,
		athlete, asOf.UTC().Format(time.RFC3339), column, v, want)
}

// newFamilyTables returns empty tables of the three families.
func newFamilyTables() (*familyTables, error) {
	var ts [3]*table
	for i, name := range AllFamilies {
		f, ok := models.FamilyByName(name)
		if !ok {
			return nil, fmt.Errorf("model family %s is not declared", name)
		}
		t, err := newTable(f)
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	return &familyTables{sweat: ts[0], thermal: ts[1], anomaly: ts[2]}, nil
}

// trainingCols reads one batch's columns by name.
type trainingCols struct {
	athlete    *array.String
	asOf       *array.Timestamp
	unit       arrow.TimeUnit
	sessions   *array.String
	features   []func(int) float64
	featureIdx []int
	// featureCols names the feature columns, for errors.
	featureCols []string
	labels      map[string]func(int) float64

	// The last session_id read, and the names derived per athlete and day.
	lastSession string
	days        map[string]athleteDay
}

func trainingColumns(rec arrow.Record) (*trainingCols, error) {
	c := &trainingCols{labels: map[string]func(int) float64{}}
	sc := rec.Schema()
	for j, f := range sc.Fields() {
		col := rec.Column(j)
		switch f.Name {
		case ColumnAthlete:
			a, ok := col.(*array.String)
			if !ok {
				return nil, fmt.Errorf("%w: column %s is %s, want a string", ErrTrainingSet,
					f.Name, f.Type)
			}
			c.athlete = a
			continue
		case ColumnAsOf:
			ts, ok := col.(*array.Timestamp)
			if !ok {
				return nil, fmt.Errorf("%w: column %s is %s, want a timestamp",
					ErrTrainingSet, f.Name, f.Type)
			}
			c.asOf, c.unit = ts, f.Type.(*arrow.TimestampType).Unit
			continue
		case ColumnSession:
			if s, ok := col.(*array.String); ok {
				c.sessions = s
			}
			continue
		}
		get, ok := numberColumn(col)
		_, isFeature := features.CurrentSchema().Index(f.Name)
		if !ok && (isFeature || isLabel(f.Name)) {
			return nil, fmt.Errorf("%w: column %s is %s, want a number (float, int32 or "+
				"int64) or a boolean", ErrTrainingSet, f.Name, f.Type)
		}
		if !ok {
			continue // a column training does not read, such as a feature's status
		}
		if idx, isFeature := features.CurrentSchema().Index(f.Name); isFeature {
			c.features = append(c.features, get)
			c.featureIdx = append(c.featureIdx, idx)
			c.featureCols = append(c.featureCols, f.Name)
			continue
		}
		c.labels[f.Name] = get
	}
	if c.athlete == nil || c.asOf == nil {
		return nil, fmt.Errorf("%w: want columns %s (string) and %s (timestamp)",
			ErrTrainingSet, ColumnAthlete, ColumnAsOf)
	}
	return c, nil
}

// numberColumn returns a reader of a numeric or boolean column as float64, NaN where
// null; false for other types.
func numberColumn(col arrow.Array) (func(int) float64, bool) {
	var get func(int) float64
	switch a := col.(type) {
	case *array.Float64:
		get = func(i int) float64 { return a.Value(i) }
	case *array.Float32:
		get = func(i int) float64 { return float64(a.Value(i)) }
	case *array.Int64:
		get = func(i int) float64 { return float64(a.Value(i)) }
	case *array.Int32:
		get = func(i int) float64 { return float64(a.Value(i)) }
	case *array.Boolean:
		get = func(i int) float64 {
			if a.Value(i) {
				return 1
			}
			return 0
		}
	default:
		return nil, false
	}
	return func(i int) float64 {
		if col.IsNull(i) {
			return math.NaN()
		}
		return get(i)
	}, true
}

// featureName names feature column k.
func (c *trainingCols) featureName(k int) string { return c.featureCols[k] }

// label returns the named label of row i, NaN when the column is absent or null.
func (c *trainingCols) label(name string, i int) float64 {
	if get, ok := c.labels[name]; ok {
		return get(i)
	}
	return math.NaN()
}

// session names row i's session: its session_id, else the athlete and UTC day.
// Rows of one session share one string.
func (c *trainingCols) session(i int, athlete string, asOf time.Time) string {
	if c.sessions != nil && !c.sessions.IsNull(i) {
		if id := c.sessions.Value(i); id != c.lastSession {
			c.lastSession = strings.Clone(id)
		}
		return c.lastSession
	}
	day := asOf.Unix() / 86400
	if asOf.Unix() < 0 && asOf.Unix()%86400 != 0 {
		day--
	}
	// Training sets interleave athletes (pit orders rows by time), so the name of
	// each athlete's current day is kept, not just the last row's.
	if c.days == nil {
		c.days = map[string]athleteDay{}
	}
	if d, ok := c.days[athlete]; ok && d.day == day {
		return d.name
	}
	name := athlete + "/" + asOf.UTC().Format(time.DateOnly)
	c.days[athlete] = athleteDay{day: day, name: name}
	return name
}

// athleteDay is the session name derived for an athlete's UTC day.
type athleteDay struct {
	day  int64
	name string
}
