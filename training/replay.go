package training

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/training/simulate"
)

// When examples are taken, in minutes since a session's start.
const (
	// Both regressions take examples from the first minute on: the server assesses
	// from the first minute too, and a model never shown a young session extrapolates
	// wildly there (projected core temperatures of 41 °C a minute into a run).
	sweatFirstMinute = 1
	sweatEvery       = 5
	thermalEvery     = 3
	anomalyEvery     = 1
	faultLookback    = 5 * time.Minute // a fault this recent makes an anomaly example positive
)

// thermalHorizons are the lead times of the thermal family's outputs, in its order.
var thermalHorizons = []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour}

// Datasets holds the three families' datasets built from one cohort.
type Datasets struct {
	Sweat, Thermal, Anomaly *Dataset
}

// BuildDatasets replays every session of the cohort, athlete by athlete and in time
// order, through a features.AthleteWindow, the code the server runs, and takes the
// examples of the three families from the vectors it computes: sweat rate every 5
// minutes from minute 1, labelled with the session's measured (mass-balance) sweat
// rate; thermal every 3 minutes from minute 1, labelled with the measured core
// temperature 15, 30
// and 60 minutes later while still in the session; anomaly every minute, labelled 1
// when a ground-truth fault touched the last 5 minutes.
//
// Measured core temperature is a label only: it is removed from the readings before
// they reach the window. Workers athletes are replayed at once (zero means
// GOMAXPROCS); the result does not depend on it.
func BuildDatasets(ctx context.Context, c *simulate.Cohort, workers int) (Datasets,
	error) {
	return buildDatasets(ctx, c, workers, Labels{})
}

// buildDatasets is BuildDatasets with the labels defined by labels.
func buildDatasets(ctx context.Context, c *simulate.Cohort, workers int,
	labels Labels) (Datasets, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	plan, err := newCohortPlan(c, labels)
	if err != nil {
		return Datasets{}, err
	}

	results := make([]*familyTables, len(c.Athletes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	err = forEachAthlete(gctx, c, plan.athleteIndex, func(i int, rs []features.Reading) {
		g.Go(func() error {
			t, err := plan.replay(i, rs)
			results[i] = t
			return err
		})
	})
	// A failed replay cancels the stream too; its own error says more.
	if werr := g.Wait(); werr != nil {
		err = werr
	}
	if err != nil {
		return Datasets{}, fmt.Errorf("build datasets: %w", err)
	}
	return joinTables(results)
}

// forEachAthlete streams the cohort's readings and calls fn with each athlete's
// index (in index) and readings, in time order.
func forEachAthlete(ctx context.Context, c *simulate.Cohort, index map[string]int,
	fn func(i int, readings []features.Reading)) error {
	var batch []features.Reading
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		i, ok := index[batch[0].AthleteID]
		if !ok {
			return fmt.Errorf("readings of unknown athlete %q", batch[0].AthleteID)
		}
		fn(i, batch)
		batch = nil
		return nil
	}
	for r, err := range c.Readings(ctx) {
		if err != nil {
			return err
		}
		if len(batch) > 0 && r.AthleteID != batch[0].AthleteID {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, r)
	}
	return flush()
}

// cohortPlan indexes a cohort's sessions and faults by athlete.
type cohortPlan struct {
	cohort       *simulate.Cohort
	athleteIndex map[string]int
	sessions     [][]simulate.Session // per athlete, by start
	faults       map[string][]simulate.Fault
	sweat        map[string]float64 // Gonzalez baseline per session, L/h
	sweatLabel   map[string]float64 // measured sweat rate per session, L/h
	families     [3]models.Family
}

func newCohortPlan(c *simulate.Cohort, labels Labels) (*cohortPlan, error) {
	p := &cohortPlan{cohort: c, athleteIndex: make(map[string]int, len(c.Athletes)),
		sessions: make([][]simulate.Session, len(c.Athletes)),
		faults:   map[string][]simulate.Fault{}, sweat: map[string]float64{},
		sweatLabel: map[string]float64{}}
	for i, name := range []string{models.SweatRate, models.ThermalTrajectory,
		models.Anomaly} {
		f, ok := models.FamilyByName(name)
		if !ok {
			return nil, fmt.Errorf("model family %s is not declared", name)
		}
		p.families[i] = f
	}

	for i, a := range c.Athletes {
		p.athleteIndex[a.ID] = i
	}
	for _, s := range c.Sessions {
		i, ok := p.athleteIndex[s.AthleteID]
		if !ok {
			return nil, fmt.Errorf("session %s of unknown athlete %q", s.ID, s.AthleteID)
		}
		p.sessions[i] = append(p.sessions[i], s)
		rate, err := GonzalezSweatRate(&c.Athletes[i], &s)
		if err != nil {
			return nil, fmt.Errorf("baseline of session %s: %w", s.ID, err)
		}
		p.sweat[s.ID] = rate
		if p.sweatLabel[s.ID], err = sweatLabel(&s, labels.SweatRate); err != nil {
			return nil, err
		}
	}
	for _, ss := range p.sessions {
		slices.SortFunc(ss, func(a, b simulate.Session) int { return a.Start.Compare(b.Start) })
	}
	for _, f := range c.Faults {
		p.faults[f.SessionID] = append(p.faults[f.SessionID], f)
	}
	return p, nil
}

// familyTables holds one athlete's rows, or after joining everyone's, per family.
type familyTables struct {
	sweat, thermal, anomaly *table
}

func (p *cohortPlan) newTables() (*familyTables, error) {
	var ts [3]*table
	for i, f := range p.families {
		t, err := newTable(f)
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	return &familyTables{sweat: ts[0], thermal: ts[1], anomaly: ts[2]}, nil
}

// replay runs athlete i's readings through a fresh window, as a server that had
// followed the athlete from the first reading would, and collects the examples.
func (p *cohortPlan) replay(i int, readings []features.Reading) (*familyTables, error) {
	t, err := p.newTables()
	if err != nil {
		return nil, err
	}
	a := &p.cohort.Athletes[i]
	core := coreReadings(readings)
	whole := i%2 == 1
	if whole {
		wholeDegreeSkin(readings)
	}
	window := features.NewAthleteWindow(a.ID, features.DefaultWindowOptions())
	v := features.NewVector()
	next := 0

	for _, s := range p.sessions[i] {
		sr := sessionReplay{plan: p, session: &s, core: core, tables: t, vector: v,
			faults: visibleFaults(p.faults[s.ID], readings, whole)}
		for asOf := s.Start.Add(time.Minute); asOf.Before(s.End); {
			next = feed(window, readings, next, asOf)
			window.Vector(asOf, v)
			sr.take(asOf)
			asOf = asOf.Add(time.Minute)
		}
	}
	return t, nil
}

// wholeDegreeSkin rounds skin temperatures to whole degrees, as FIT files store a
// watch's temperature. Half the athletes are replayed so, so that the models learn
// features that hold at both resolutions rather than reading the rounding's steps as
// sensor faults.
func wholeDegreeSkin(readings []features.Reading) {
	for k := range readings {
		if v, ok := readings[k].Get(features.SkinTemp); ok {
			readings[k].Set(features.SkinTemp, math.Round(v))
		}
	}
}

// visibleFaults returns the faults that change the readings as replayed. A skin
// flat line replayed at whole degrees is invisible when the first reading after it
// rounds to the stuck value: the clean signal would most likely have read the same
// whole degree all along, so nothing in the data tells the fault apart and its
// examples are not labelled faulty. Every other fault is visible.
func visibleFaults(faults []simulate.Fault, readings []features.Reading,
	whole bool) []simulate.Fault {
	if !whole {
		return faults
	}
	var kept []simulate.Fault
	for _, f := range faults {
		if f.Kind != simulate.FlatLine || f.Signal != features.SkinTemp ||
			!sameAfter(f, readings) {
			kept = append(kept, f)
		}
	}
	return kept
}

// sameAfter reports whether the first skin reading of the fault's source after the
// fault equals the stuck value; with no reading after it, it reports true.
func sameAfter(f simulate.Fault, readings []features.Reading) bool {
	stuck := math.NaN()
	k := sort.Search(len(readings), func(k int) bool { return readings[k].Time.After(f.End) })
	for j := k - 1; j >= 0 && !readings[j].Time.Before(f.Start); j-- {
		if v, ok := readings[j].Get(features.SkinTemp); ok && readings[j].Source == f.Source {
			stuck = v
			break
		}
	}
	for ; k < len(readings); k++ {
		if v, ok := readings[k].Get(features.SkinTemp); ok && readings[k].Source == f.Source {
			return v == stuck
		}
	}
	return true
}

// coreReadings returns the measured core temperatures by Unix ms: the labels the
// thermal examples look ahead to.
func coreReadings(readings []features.Reading) map[int64]float64 {
	core := map[int64]float64{}
	for i := range readings {
		if ct, ok := readings[i].Get(features.CoreTemp); ok {
			core[readings[i].Time.UnixMilli()] = ct
		}
	}
	return core
}

// feed adds readings[next:] up to asOf to the window without their measured core
// temperature, and returns the index of the first reading left.
func feed(w *features.AthleteWindow, readings []features.Reading, next int,
	asOf time.Time) int {
	for ; next < len(readings) && !readings[next].Time.After(asOf); next++ {
		r := readings[next]
		r.Set(features.CoreTemp, features.Missing)
		for _, x := range r.Values {
			if !math.IsNaN(x) {
				w.Add(r)
				break
			}
		}
	}
	return next
}

// sessionReplay takes the examples of one session.
type sessionReplay struct {
	plan    *cohortPlan
	session *simulate.Session
	core    map[int64]float64
	faults  []simulate.Fault // those that change the readings as replayed
	tables  *familyTables
	vector  *features.Vector
}

// take adds the examples due at asOf from the window's current vector.
func (r *sessionReplay) take(asOf time.Time) {
	s, v := r.session, r.vector
	m := minuteOf(s.Start, asOf)
	when := Timeline{Session: s.ID, Minute: m}

	if m%anomalyEvery == 0 {
		label := 0.0
		if faultActive(r.faults, asOf) {
			label = 1
		}
		r.tables.anomaly.add(v, []float64{label}, []float64{RuleAnomalyScore(v)}, when)
	}
	if m >= sweatFirstMinute && (m-sweatFirstMinute)%sweatEvery == 0 {
		r.tables.sweat.add(v, []float64{r.plan.sweatLabel[s.ID]},
			[]float64{r.plan.sweat[s.ID]}, when)
	}
	if (m-1)%thermalEvery == 0 {
		labels := make([]float64, len(thermalHorizons))
		baseline := make([]float64, len(thermalHorizons))
		labelled := false
		flat := FlatCoreTemp(v)
		for h, lead := range thermalHorizons {
			labels[h], baseline[h] = r.coreAt(asOf.Add(lead)), flat
			labelled = labelled || !math.IsNaN(labels[h])
		}
		if labelled {
			r.tables.thermal.add(v, labels, baseline, when)
		}
	}
}

// coreAt returns the measured core temperature at t, NaN when t is past the session
// or the pill gave no reading then.
func (r *sessionReplay) coreAt(t time.Time) float64 {
	if !t.Before(r.session.End) {
		return math.NaN()
	}
	if ct, ok := r.core[t.UnixMilli()]; ok {
		return ct
	}
	return math.NaN()
}

// faultActive reports whether a fault touched (asOf − faultLookback, asOf].
func faultActive(faults []simulate.Fault, asOf time.Time) bool {
	from := asOf.Add(-faultLookback)
	for _, f := range faults {
		if !f.Start.After(asOf) && f.End.After(from) {
			return true
		}
	}
	return false
}

// joinTables concatenates the athletes' tables in athlete order.
func joinTables(parts []*familyTables) (Datasets, error) {
	var all *familyTables
	for _, p := range parts {
		if p == nil {
			continue
		}
		if all == nil {
			all = p
			continue
		}
		all.sweat.appendTable(p.sweat)
		all.thermal.appendTable(p.thermal)
		all.anomaly.appendTable(p.anomaly)
	}
	if all == nil {
		return Datasets{}, fmt.Errorf("build datasets: %w: no readings", ErrTooFewRows)
	}
	var d Datasets
	var err error
	if d.Sweat, err = all.sweat.dataset(); err != nil {
		return Datasets{}, fmt.Errorf("build datasets: %w", err)
	}
	if d.Thermal, err = all.thermal.dataset(); err != nil {
		return Datasets{}, fmt.Errorf("build datasets: %w", err)
	}
	if d.Anomaly, err = all.anomaly.dataset(); err != nil {
		return Datasets{}, fmt.Errorf("build datasets: %w", err)
	}
	return d, nil
}
