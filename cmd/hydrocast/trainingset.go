package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/evaluation"
	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/pit"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/training"
)

type trainingSetFlags struct {
	offline    string
	labels     []string
	out        string
	asIngested bool
	from       string
	every      time.Duration
	force      bool
}

// Session labels (a measured sweat rate per session) become one row every
// --every minutes from the session's first minute, as training on a simulated
// cohort takes its sweat examples; a session without an end lasts until the
// athlete's next labelled session or maxLabelSession.
const (
	sessionFirstRow = time.Minute
	maxLabelSession = 6 * time.Hour
)

// instantLabelColumns are the label columns a CSV of instant labels may have.
var instantLabelColumns = []string{models.OutSweatRate, training.LabelSweatBaseline,
	models.OutCoreTemp15m, models.OutCoreTemp30m, models.OutCoreTemp60m,
	training.LabelFault}

// maxLabelLines bounds a labels file, so that a damaged one cannot exhaust memory.
const maxLabelLines = 10_000_000

func newTrainingSetCommand(g *globals) *cobra.Command {
	f := &trainingSetFlags{}
	cmd := &cobra.Command{
		Use:   "trainingset",
		Short: "Build a point-in-time training set from the offline store and labels",
		Long: `Trainingset reads labels and writes, for each labelled instant, the feature vector
serving had for that athlete at that instant: it replays the athlete's readings from
the offline store (<home>/offline, or --offline) through the serving windows,
stopping at the label's time, so no later reading leaks in. The result is one
Parquet file (--out) with athlete_id, as_of, the feature columns and one column per
label, which 'hydrocast train --trainingset FILE' trains on.

Labels come from one or more files (--labels, repeatable), each one of:
  - JSON lines of measured session sweat rates, as hydrocast serve's RecordOutcome
    appends them to <home>/labels/labels.jsonl (the default when it exists):
    athlete_id, session_start, session_end (optional), sweat_rate_l_per_h;
  - the same as CSV, with a header naming athlete_id, session_start,
    sweat_rate_l_per_h and optionally session_end (the weigh-ins file drift report
    reads);
  - CSV of labelled instants: a header athlete_id,time, then any of
      ` + strings.Join(instantLabelColumns, "\n      ") + `
    an empty cell is an unknown label.
Times are RFC 3339. A session label becomes a row every --every from the session's
first minute to its end (without an end: until the athlete's next labelled session,
at most 6 hours). A line that cannot be read stops the command, naming the file and
the line.

With --as-ingested a label sees only the readings the server had received by its
time, in arrival order, which reproduces what was served live; by default it sees
the corrected history, every reading measured by then.`,
		Example: `  hydrocast trainingset --out var/sets/2026-07.parquet
  hydrocast trainingset --labels weigh-ins.csv --labels core-pills.csv \
    --offline /data/offline --from 2026-06-01T00:00:00Z --out july.parquet
  hydrocast train --trainingset july.parquet --family sweat-rate --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTrainingSet(cmd.Context(), g, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.offline, "offline", "", "offline store folder (default <home>/offline)")
	fl.StringArrayVar(&f.labels, "labels", nil, "labels file, JSON lines or CSV "+
		"(repeatable; default <home>/labels/labels.jsonl)")
	fl.StringVar(&f.out, "out", "", "training-set Parquet file to write (required)")
	fl.BoolVar(&f.force, "force", false, "replace --out when it exists (never an input, "+
		"a file of the offline store or anything but a regular file)")
	fl.BoolVar(&f.asIngested, "as-ingested", false, "let a label see only the readings "+
		"received by its time, as served live")
	fl.StringVar(&f.from, "from", "", "start of history to replay (RFC 3339); default "+
		"everything the store holds")
	fl.DurationVar(&f.every, "every", 5*time.Minute, "interval between the rows of a "+
		"session label")
	return cmd
}

func runTrainingSet(ctx context.Context, g *globals, f *trainingSetFlags,
	stdout, stderr io.Writer) error {
	if f.out == "" {
		return errors.New("--out: required")
	}
	if f.every < minLabelEvery {
		return fmt.Errorf("--every %s: want at least %s, the readings' cadence", f.every,
			minLabelEvery)
	}
	opts := &pit.Options{AsIngested: f.asIngested}
	if f.from != "" {
		from, err := time.Parse(time.RFC3339, f.from)
		if err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		opts.From = from
	}
	if len(f.labels) == 0 {
		f.labels = []string{labelsPath(g.home)}
	}
	set, err := readLabelFiles(f.labels, f.every)
	if err != nil {
		return err
	}
	if len(set.labels) == 0 {
		return fmt.Errorf("--labels: %s holds no label", strings.Join(f.labels, ", "))
	}

	dir := f.offline
	if dir == "" {
		dir = filepath.Join(g.home, "offline")
	}
	if _, err := os.Stat(filepath.Join(dir, "readings")); err != nil {
		return fmt.Errorf("--offline: %s is not an offline store: %w", dir, err)
	}
	if err := checkOut(f.out, f.labels, dir, f.force); err != nil {
		return err
	}
	store, err := offline.Open(dir, nil)
	if err != nil {
		return fmt.Errorf("--offline: %w", err)
	}
	defer store.Close()

	began := time.Now()
	written, err := writeTrainingSet(ctx, store, set, opts, f.out, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d rows (%d labelled instants, labels %s) to %s in %s\n",
		written.Rows, len(set.labels), strings.Join(set.names, ", "), f.out,
		time.Since(began).Round(time.Millisecond))
	warnWithoutReadings(stderr, written, dir)
	return nil
}

// warnWithoutReadings warns when over half the rows written have every feature
// missing: their athletes have no readings in the store before the labels, which
// training can do little with.
func warnWithoutReadings(w io.Writer, written pit.Written, store string) {
	switch {
	case written.Rows == 0:
		fmt.Fprintf(w, "warning: no label fell where %s holds readings (check --from "+
			"and the labels' times)\n", store)
	case 2*written.WithoutReadings > written.Rows:
		fmt.Fprintf(w, "warning: %d of %d rows have no reading of their athlete before "+
			"them, so every feature is missing; check the athlete ids and times against "+
			"%s\n", written.WithoutReadings, written.Rows, store)
	}
}

// minLabelEvery is the shortest --every: rows closer than the readings' 30 s cadence
// repeat one another.
const minLabelEvery = 30 * time.Second

// checkOut refuses an --out that would destroy something: an input labels file, a
// file of the offline store, anything but a regular file, or, without force, any
// existing file. Its folder must exist, so that a long build cannot fail at the end.
func checkOut(out string, labels []string, store string, force bool) error {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return filepath.Clean(p)
		}
		if r, err := filepath.EvalSymlinks(a); err == nil {
			return r
		}
		return a
	}
	target := abs(out)
	for _, l := range labels {
		if abs(l) == target {
			return fmt.Errorf("--out %s is a --labels input", out)
		}
	}
	if rel, err := filepath.Rel(abs(store), target); err == nil && rel != ".." &&
		!strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("--out %s is inside the offline store %s", out, store)
	}
	if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
		return fmt.Errorf("--out %s: its folder does not exist", out)
	}
	st, err := os.Lstat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("--out: %w", err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("--out %s exists and is not a regular file", out)
	case !force:
		return fmt.Errorf("--out %s exists; pass --force to replace it", out)
	}
	return nil
}

// writeTrainingSet writes the training set to path through a temporary file, so
// that a failed build leaves no half file behind, showing a bar per partition.
func writeTrainingSet(ctx context.Context, store *offline.Store, set *labelSet,
	opts *pit.Options, path string, stderr io.Writer) (pit.Written, error) {
	last := slices.MaxFunc(set.labels, func(a, b pit.Label) int {
		return a.Time.Compare(b.Time)
	}).Time
	parts, err := store.Partitions(opts.From, last.Add(time.Nanosecond))
	if err != nil {
		return pit.Written{}, fmt.Errorf("--offline: %w", err)
	}
	bar := newProgress(stderr, len(parts), "replaying days")
	src := &countingSource{src: store, done: func(n int) { bar.set(n) }}

	tmp, err := os.CreateTemp(filepath.Dir(path), ".trainingset-*.tmp")
	if err != nil {
		return pit.Written{}, fmt.Errorf("--out: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	written, err := pit.WriteParquet(ctx, w, src, set.names, set.labels, opts)
	bar.finish()
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return pit.Written{}, fmt.Errorf("write training set: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return pit.Written{}, fmt.Errorf("--out: %w", err)
	}
	return written, nil
}

// countingSource passes a store's days on and reports how many went by.
type countingSource struct {
	src  pit.Source
	done func(int)
}

func (c *countingSource) Days(ctx context.Context,
	q offline.Query) iter.Seq2[offline.Day, error] {
	return func(yield func(offline.Day, error) bool) {
		n := 0
		for d, err := range c.src.Days(ctx, q) {
			n++
			c.done(n)
			if !yield(d, err) {
				return
			}
		}
	}
}

// labelSet is the labels of every file, with the union of their label names.
type labelSet struct {
	names  []string
	labels []pit.Label
}

// readLabelFiles reads and merges the labels files; a label has NaN for the names
// its file lacks.
func readLabelFiles(paths []string, every time.Duration) (*labelSet, error) {
	type fileLabels struct {
		names  []string
		labels []pit.Label
	}
	var files []fileLabels
	set := &labelSet{}
	for _, p := range paths {
		names, labels, err := readLabelFile(p, every)
		if err != nil {
			return nil, err
		}
		files = append(files, fileLabels{names, labels})
		for _, n := range names {
			if !slices.Contains(set.names, n) {
				set.names = append(set.names, n)
			}
		}
	}
	for _, fl := range files {
		for _, l := range fl.labels {
			values := make([]float64, len(set.names))
			for i, n := range set.names {
				values[i] = math.NaN()
				if j := slices.Index(fl.names, n); j >= 0 {
					values[i] = l.Values[j]
				}
			}
			set.labels = append(set.labels, pit.Label{AthleteID: l.AthleteID, Time: l.Time,
				Values: values})
		}
	}
	return set, nil
}

// readLabelFile reads one labels file, telling its kind by its first bytes.
func readLabelFile(path string, every time.Duration) ([]string, []pit.Label, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--labels: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(4096)
	text := strings.TrimLeft(string(head), " \t\r\n\ufeff")
	firstLine, _, _ := strings.Cut(text, "\n")

	var names []string
	var labels []pit.Label
	if strings.HasPrefix(text, "{") || strings.HasPrefix(text, "[") ||
		strings.Contains(firstLine, "session_start") {
		var sessions []evaluation.Label
		sessions, err = evaluation.ReadLabels(br)
		names, labels = []string{models.OutSweatRate}, sessionLabels(sessions, every)
	} else {
		names, labels, err = readInstantLabels(br)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--labels %s: %w", path, err)
	}
	return names, labels, nil
}

// sessionLabels spreads each session's sweat rate over rows every interval from the
// session's first minute until its end.
func sessionLabels(sessions []evaluation.Label, every time.Duration) []pit.Label {
	// A session without an end lasts until the athlete's next labelled session.
	byAthlete := map[string][]time.Time{}
	for _, s := range sessions {
		byAthlete[s.AthleteID] = append(byAthlete[s.AthleteID], s.SessionStart)
	}
	for _, starts := range byAthlete {
		slices.SortFunc(starts, time.Time.Compare)
	}

	var out []pit.Label
	for _, s := range sessions {
		end := s.SessionEnd
		if end.IsZero() {
			end = s.SessionStart.Add(maxLabelSession)
			starts := byAthlete[s.AthleteID]
			i, _ := slices.BinarySearchFunc(starts, s.SessionStart, time.Time.Compare)
			for ; i < len(starts); i++ {
				if starts[i].After(s.SessionStart) {
					end = minTime(end, starts[i])
					break
				}
			}
		}
		for at := s.SessionStart.Add(sessionFirstRow); at.Before(end); at = at.Add(every) {
			out = append(out, pit.Label{AthleteID: s.AthleteID, Time: at,
				Values: []float64{s.SweatRateLPerH}})
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// errBadLabels is wrapped by the errors of a CSV of instant labels; they name the
// line.
var errBadLabels = errors.New("bad labels")

// readInstantLabels reads a CSV of labelled instants: a header of athlete_id, time
// and label columns from instantLabelColumns, then one instant a line.
func readInstantLabels(r io.Reader) ([]string, []pit.Label, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: header: %w", errBadLabels, err)
	}
	header = slices.Clone(header)
	cols, names, err := instantColumns(header)
	if err != nil {
		return nil, nil, err
	}

	var out []pit.Label
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return names, out, nil
		}
		if err == nil && line > maxLabelLines {
			err = fmt.Errorf("more than %d lines", maxLabelLines)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: line %d: %w", errBadLabels, line, err)
		}
		l, err := instantLabel(rec, cols, names)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: line %d: %w", errBadLabels, line, err)
		}
		out = append(out, l)
	}
}

// instantColumns maps a header to the columns of athlete_id, time and each label.
func instantColumns(header []string) (cols []int, names []string, err error) {
	athlete, at := -1, -1
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		switch {
		case h == "athlete_id" && athlete < 0:
			athlete = i
		case h == "time" && at < 0:
			at = i
		case slices.Contains(instantLabelColumns, h) && !slices.Contains(names, h):
			names = append(names, h)
			cols = append(cols, i)
		default:
			return nil, nil, fmt.Errorf("%w: header: column %q: want athlete_id, time or "+
				"a label (%s), each once", errBadLabels, h,
				strings.Join(instantLabelColumns, ", "))
		}
	}
	if athlete < 0 || at < 0 || len(names) == 0 {
		return nil, nil, fmt.Errorf("%w: header: want athlete_id, time and at least one "+
			"label column (%s)", errBadLabels, strings.Join(instantLabelColumns, ", "))
	}
	return append([]int{athlete, at}, cols...), names, nil
}

// instantLabel reads one line; cols holds the athlete, time and label columns, and
// names the labels'.
func instantLabel(rec []string, cols []int, names []string) (pit.Label, error) {
	if len(rec) < len(cols) {
		return pit.Label{}, fmt.Errorf("%d fields, want %d", len(rec), len(cols))
	}
	var l pit.Label
	l.AthleteID = strings.TrimSpace(rec[cols[0]])
	if l.AthleteID == "" {
		return l, errors.New("athlete_id is empty")
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[cols[1]]))
	if err != nil {
		return l, fmt.Errorf("time: %w", err)
	}
	l.Time = t
	l.Values = make([]float64, len(cols)-2)
	for k, c := range cols[2:] {
		s := strings.TrimSpace(rec[c])
		if s == "" {
			l.Values[k] = math.NaN()
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return l, fmt.Errorf("%s: %q is not a number", names[k], s)
		}
		if want, ok := training.LabelWant(names[k], v); !ok {
			return l, fmt.Errorf("%s: %v: want %s", names[k], v, want)
		}
		l.Values[k] = v
	}
	return l, nil
}
