package simulate

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
)

// Summary reports what Run generated.
type Summary struct {
	Dir    string // the output folder
	Counts Counts
	Files  []File // every file written, manifest.json excluded, sorted by path

	// MeasuredSweatRate spreads the sessions' mass-balance sweat rates (L/h), to
	// compare with the published normative values.
	MeasuredSweatRate Spread
}

// Spread summarises a sample.
type Spread struct {
	Mean, SD, Min, Max float64
}

// Run generates the cohort that opts describe and writes it under opts.Out (see the
// package documentation for the layout). It calls progress, when not nil, after each
// simulated session with the number done and the total; the calls come from several
// goroutines but never at the same time. Run stops early when ctx is cancelled;
// the folder is then left without its manifest.
func Run(ctx context.Context, opts Options, progress func(done, total int)) (Summary, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	out, err := prepareOut(o.Out)
	if err != nil {
		return Summary{}, err
	}

	athletes, plans := planCohort(o)
	fitIDs := map[string]bool{}
	for _, p := range plans[:min(o.FITSessions, len(plans))] {
		fitIDs[sessionID(athletes[p.athlete].ID, p.number)] = true
	}
	slices.SortStableFunc(plans, func(a, b sessionPlan) int { return a.day.Compare(b.day) })

	g := &generation{opts: o, athletes: athletes, out: out, fitIDs: fitIDs,
		total: len(plans), progress: progress}
	for len(plans) > 0 {
		n := 1
		for n < len(plans) && plans[n].day.Equal(plans[0].day) {
			n++
		}
		if err := g.day(ctx, plans[:n]); err != nil {
			return Summary{}, err
		}
		plans = plans[n:]
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}
	return g.finish()
}

// planCohort draws the athletes and the days of their sessions, in athlete order.
func planCohort(o Options) ([]Athlete, []sessionPlan) {
	athletes := make([]Athlete, o.Athletes)
	plans := make([]sessionPlan, 0, o.Athletes*o.SessionsPerAthlete)
	for i := range athletes {
		athletes[i] = newAthlete(o.Seed, i)

		// The session days come from the athlete's own stream, after its traits.
		r := newRand(o.Seed, streamAthlete, i, 0)
		days := r.Perm(o.Days)[:o.SessionsPerAthlete]
		slices.Sort(days)
		for k, d := range days {
			plans = append(plans, sessionPlan{athlete: i, number: k + 1,
				day: o.Start.AddDate(0, 0, d)})
		}
	}
	return athletes, plans
}

// generation holds the state of one Run between days.
type generation struct {
	opts     Options
	athletes []Athlete
	out      *outDir
	fitIDs   map[string]bool

	sessions []Session
	faults   []Fault
	readings int

	mu       sync.Mutex // serialises progress calls
	done     int        // guarded by mu
	total    int
	progress func(done, total int)
}

// day simulates the sessions of one calendar day in parallel and writes that day's
// readings file and any FIT files among them.
func (g *generation) day(ctx context.Context, plans []sessionPlan) error {
	results := make([]sessionResult, len(plans))
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(cmp.Or(g.opts.Workers, runtime.GOMAXPROCS(0)))
	for i, p := range plans {
		eg.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := simulateSession(g.opts.Seed, &g.athletes[p.athlete], p,
				g.opts.FaultsPerHour)
			results[i] = res
			g.tick()
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}

	// Plans of a day are in athlete order and each session is in time order, so the
	// day's readings come out ordered by athlete, then time, then source.
	var rows []features.Reading
	for i := range results {
		rows = append(rows, results[i].readings...)
		g.sessions = append(g.sessions, results[i].session)
		g.faults = append(g.faults, results[i].faults...)
	}
	g.readings += len(rows)
	rel := fmt.Sprintf("%s/date=%s/part-0.parquet", readingsDir,
		plans[0].day.Format(time.DateOnly))
	err := g.out.create(rel, func(w io.Writer) error {
		return writeTable(w, readingColumns(rows), len(rows), g.metadata())
	})
	if err != nil {
		return err
	}
	return g.writeFIT(results)
}

func (g *generation) tick() {
	if g.progress == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done++
	g.progress(g.done, g.total)
}

// metadata is the key-value metadata of every Parquet file.
func (g *generation) metadata() [][2]string {
	return [][2]string{
		{"hydrocast.generator_version", GeneratorVersion},
		{"hydrocast.seed", fmt.Sprint(g.opts.Seed)},
		{"hydrocast.simulated", "true"},
	}
}

// writeFIT writes the watch readings of the day's sessions chosen for FIT export.
func (g *generation) writeFIT(results []sessionResult) error {
	for i := range results {
		s := &results[i].session
		if !g.fitIDs[s.ID] {
			continue
		}
		var watch []features.Reading
		for _, r := range results[i].readings {
			if r.Source == SourceWatch {
				watch = append(watch, r)
			}
		}
		err := g.out.create(fitDir+"/"+s.ID+".fit", func(w io.Writer) error {
			return importer.WriteFIT(w, watch, importer.WriteOptions{Sport: string(s.Sport)})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// finish writes the athletes, sessions and faults tables and the manifest.
func (g *generation) finish() (Summary, error) {
	slices.SortFunc(g.sessions, func(a, b Session) int {
		return cmp.Or(cmp.Compare(a.AthleteID, b.AthleteID), a.Start.Compare(b.Start))
	})
	slices.SortFunc(g.faults, compareFaults)

	tables := []struct {
		name string
		cols []column
		rows int
	}{
		{athletesFile, athleteColumns(g.athletes), len(g.athletes)},
		{sessionsFile, sessionColumns(g.sessions, g.opts.Seed), len(g.sessions)},
		{faultsFile, faultColumns(g.faults), len(g.faults)},
	}
	for _, t := range tables {
		err := g.out.create(t.name, func(w io.Writer) error {
			return writeTable(w, t.cols, t.rows, g.metadata())
		})
		if err != nil {
			return Summary{}, err
		}
	}

	m := &Manifest{
		GeneratorVersion: GeneratorVersion, Seed: g.opts.Seed,
		Options: manifestOptions(g.opts),
		Counts: Counts{Athletes: len(g.athletes), Sessions: len(g.sessions),
			Readings: g.readings, Faults: len(g.faults), FITFiles: len(g.fitIDs)},
	}
	if err := g.out.writeManifest(m); err != nil {
		return Summary{}, err
	}
	rates := make([]float64, len(g.sessions))
	for i := range g.sessions {
		rates[i] = g.sessions[i].MeasuredSweatRate
	}
	return Summary{Dir: g.opts.Out, Counts: m.Counts, Files: m.Files,
		MeasuredSweatRate: spreadOf(rates)}, nil
}

// compareFaults orders faults by athlete, start and signal; an athlete's sessions
// fall on different days, so this also orders them by session.
func compareFaults(a, b Fault) int {
	return cmp.Or(cmp.Compare(a.AthleteID, b.AthleteID), a.Start.Compare(b.Start),
		cmp.Compare(a.Signal, b.Signal))
}

func spreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := Spread{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, x := range xs {
		s.Mean += x
		s.Min, s.Max = math.Min(s.Min, x), math.Max(s.Max, x)
	}
	s.Mean /= float64(len(xs))
	for _, x := range xs {
		s.SD += (x - s.Mean) * (x - s.Mean)
	}
	if len(xs) > 1 {
		s.SD = math.Sqrt(s.SD / float64(len(xs)-1))
	}
	return s
}
