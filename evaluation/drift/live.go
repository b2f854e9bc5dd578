package drift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Key names one model version whose live traffic is watched.
type Key struct {
	Model   string
	Version int
}

func (k Key) String() string { return k.Model + " v" + strconv.Itoa(k.Version) }

// LiveOptions configure a Live. A zero field selects the default.
type LiveOptions struct {
	// Dir is the folder that keeps each version's sketches across restarts, as
	// Dir/<model>/<version>.json (see StatePath). Empty keeps nothing on disk.
	Dir string
	// Instance tells replicas sharing Dir apart: each writes
	// Dir/<model>/<version>.<instance>.json, and ReadState merges them all. Empty
	// for a single server. Letters, digits, '-' and '_' only.
	Instance string
	// FlushInterval is how often Run writes changed sketches to Dir and refreshes
	// the metrics. Default one minute.
	FlushInterval time.Duration
	// Monitor bounds each version's memory. Its BucketReservoir defaults to 200
	// here, so that reports over a recent window keep their KS and Wasserstein
	// verdicts.
	Monitor MonitorOptions
	// Report chooses the tests and thresholds behind the metrics.
	Report Options
	// Logger receives the errors Observe cannot return; nil discards them.
	Logger *slog.Logger
}

// DefaultBucketReservoir is the per-bucket sample size a Live keeps by default.
const DefaultBucketReservoir = 200

func (o LiveOptions) withDefaults() LiveOptions {
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Minute
	}
	if o.Monitor.BucketReservoir == 0 {
		o.Monitor.BucketReservoir = DefaultBucketReservoir
	}
	o.Monitor = o.Monitor.withDefaults()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Live keeps the live sketches of every model version a server runs: one Monitor
// per version, created on the version's first row from the reference profile the
// version carries, restored from Dir when an earlier process saved one, and saved
// again by Run and Close. It also serves the drift metrics (see Collector). It is
// safe for concurrent use.
type Live struct {
	opt LiveOptions

	mu       sync.RWMutex
	versions map[Key]*liveVersion // guarded by mu

	metricsMu sync.Mutex
	reports   map[Key]*Report // guarded by metricsMu; the last report per version
}

// liveVersion is one version's monitor and how its profile maps to the row.
type liveVersion struct {
	monitor *Monitor // nil when the version has no usable profile
	columns []int    // per profile feature, its position in the row; -1 if absent
	names   []string // the row's column names the mapping was built for
	dirtyMu sync.Mutex
	dirty   bool        // guarded by dirtyMu; rows arrived since the last save
	warned  atomic.Bool // a bad row was logged; later ones are not, on the hot path
}

// NewLive returns an empty Live. It fails when Instance or Dir cannot be used.
func NewLive(opt LiveOptions) (*Live, error) {
	opt = opt.withDefaults()
	if opt.Instance != "" && !safeInstance.MatchString(opt.Instance) {
		return nil, fmt.Errorf("new live drift: %w: instance %q (letters, digits, - and _)",
			ErrInvalid, opt.Instance)
	}
	if opt.Dir != "" {
		if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("new live drift: %w", err)
		}
	}
	return &Live{opt: opt, versions: make(map[Key]*liveVersion),
		reports: make(map[Key]*Report)}, nil
}

var (
	safeInstance = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	safeModel    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
)

// StatePath returns the file in dir that keeps the sketches of version k written by
// instance ("" for a single server). It fails on a model name that is not a plain
// file name.
func StatePath(dir string, k Key, instance string) (string, error) {
	if !safeModel.MatchString(k.Model) || k.Version < 0 {
		return "", fmt.Errorf("%w: model %q version %d cannot name a file", ErrInvalid,
			k.Model, k.Version)
	}
	name := strconv.Itoa(k.Version)
	if instance != "" {
		name += "." + instance
	}
	return filepath.Join(dir, k.Model, name+".json"), nil
}

// Observe records one row of version k's live traffic at event time at: values[i]
// is the value of the column names[i] (NaN where missing), typically the model's
// input features in input order followed by its outputs. On the first row of a
// version, reference (the version's profile JSON) is decoded and its features are
// matched to names by name; a profile feature absent from names counts as missing.
// A version without a usable profile is logged once and skipped from then on.
// The same k must always come with the same names.
func (l *Live) Observe(k Key, reference []byte, names []string, at time.Time,
	values []float64) {
	v := l.version(k, reference, names)
	if v.monitor == nil {
		return
	}
	if len(values) != len(names) || !slices.Equal(v.names, names) {
		if !v.warned.Swap(true) {
			l.opt.Logger.Warn("drift rows do not match their columns; skipping them",
				"model", k.Model, "version", k.Version, "values", len(values),
				"names", len(names))
		}
		return
	}

	row := make([]float64, len(v.columns))
	for i, c := range v.columns {
		row[i] = math.NaN()
		if c >= 0 {
			row[i] = values[c]
		}
	}
	// The profile's features are all numeric here: a categorical one sees "", which
	// counts as missing.
	if err := v.monitor.Observe(at, row, nil); err != nil {
		if !v.warned.Swap(true) {
			l.opt.Logger.Warn("drift observe failed", "model", k.Model,
				"version", k.Version, "err", err)
		}
		return
	}
	v.dirtyMu.Lock()
	v.dirty = true
	v.dirtyMu.Unlock()
}

// version returns the state of k, creating it on first sight.
func (l *Live) version(k Key, reference []byte, names []string) *liveVersion {
	l.mu.RLock()
	v, ok := l.versions[k]
	l.mu.RUnlock()
	if ok {
		return v
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if v, ok := l.versions[k]; ok {
		return v
	}
	v = &liveVersion{names: slices.Clone(names)}
	l.versions[k] = v
	m, err := l.startMonitor(k, reference)
	if err != nil {
		l.opt.Logger.Warn("drift monitoring off for version", "model", k.Model,
			"version", k.Version, "err", err)
		return v
	}
	v.monitor = m
	v.columns = columnsOf(m.Profile(), names)
	return v
}

// columnsOf maps each profile feature to its position in names, -1 when absent.
func columnsOf(p *Profile, names []string) []int {
	out := make([]int, len(p.Features))
	for i, f := range p.Features {
		out[i] = slices.Index(names, f.Name)
	}
	return out
}

// startMonitor decodes the profile and resumes the saved sketches, if any.
func (l *Live) startMonitor(k Key, reference []byte) (*Monitor, error) {
	if len(reference) == 0 {
		return nil, errors.New("the version has no reference profile")
	}
	p, err := DecodeProfile(reference)
	if err != nil {
		return nil, err
	}
	if l.opt.Dir == "" {
		return NewMonitor(p, l.opt.Monitor)
	}
	path, err := StatePath(l.opt.Dir, k, l.opt.Instance)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return NewMonitor(p, l.opt.Monitor)
	}
	if err == nil {
		var m *Monitor
		if m, err = RestoreMonitor(p, data, l.opt.Monitor); err == nil {
			return m, nil
		}
	}
	// A damaged or incompatible file must not stop serving: start afresh, and keep
	// the old file aside for whoever wants to look at it.
	l.opt.Logger.Warn("drift state not restored; starting afresh", "model", k.Model,
		"version", k.Version, "err", err)
	_ = os.Rename(path, path+".bad")
	return NewMonitor(p, l.opt.Monitor)
}

// Run writes changed sketches and refreshes the metrics every FlushInterval until
// ctx ends. Errors are logged; Run returns ctx's error.
func (l *Live) Run(ctx context.Context) error {
	t := time.NewTicker(l.opt.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := l.Flush(); err != nil {
				l.opt.Logger.Warn("drift flush failed", "err", err)
			}
		}
	}
}

// Close writes every changed version's sketches one last time.
func (l *Live) Close() error { return l.Flush() }

// Flush refreshes the metrics and writes the sketches of every version that changed
// since the last flush, each file replaced atomically.
func (l *Live) Flush() error {
	l.mu.RLock()
	keys := make([]Key, 0, len(l.versions))
	states := make([]*liveVersion, 0, len(l.versions))
	for k, v := range l.versions {
		if v.monitor != nil {
			keys, states = append(keys, k), append(states, v)
		}
	}
	l.mu.RUnlock()

	var errs []error
	for i, k := range keys {
		v := states[i]
		v.dirtyMu.Lock()
		dirty := v.dirty
		v.dirty = false
		v.dirtyMu.Unlock()

		r := v.monitor.Report(l.opt.Report)
		l.metricsMu.Lock()
		l.reports[k] = r
		l.metricsMu.Unlock()

		if !dirty || l.opt.Dir == "" {
			continue
		}
		if err := l.save(k, v.monitor); err != nil {
			v.dirtyMu.Lock()
			v.dirty = true
			v.dirtyMu.Unlock()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// save writes one monitor's state through a temporary file and a rename.
func (l *Live) save(k Key, m *Monitor) error {
	path, err := StatePath(l.opt.Dir, k, l.opt.Instance)
	if err != nil {
		return err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("save drift state of %s: %w", k, err)
	}
	if err := writeAtomic(path, data); err != nil {
		return fmt.Errorf("save drift state of %s: %w", k, err)
	}
	return nil
}

// writeAtomic replaces path with data so that a reader sees the old or the new
// content, never a part.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
	}
	return werr
}

// Retire saves version k's sketches and drops it from memory and from the metrics,
// for a version the server no longer runs (after a hot swap, say). A row that still
// arrives for k resumes it from the saved file.
func (l *Live) Retire(k Key) error {
	l.mu.Lock()
	v := l.versions[k]
	delete(l.versions, k)
	l.mu.Unlock()
	l.metricsMu.Lock()
	delete(l.reports, k)
	l.metricsMu.Unlock()
	if v == nil || v.monitor == nil || l.opt.Dir == "" {
		return nil
	}
	v.dirtyMu.Lock()
	dirty := v.dirty
	v.dirtyMu.Unlock()
	if !dirty {
		return nil
	}
	return l.save(k, v.monitor)
}

// Monitor returns the live monitor of version k, nil when k has sent no row or has
// no usable profile.
func (l *Live) Monitor(k Key) *Monitor {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if v := l.versions[k]; v != nil {
		return v.monitor
	}
	return nil
}

// ReadState returns the monitor of version k saved in dir by every instance,
// merged, resumed against profile p. It reports os.ErrNotExist (wrapped) when no
// instance saved one.
func ReadState(dir string, k Key, p *Profile) (*Monitor, error) {
	single, err := StatePath(dir, k, "")
	if err != nil {
		return nil, fmt.Errorf("read drift state: %w", err)
	}
	paths := []string{single}
	more, _ := filepath.Glob(strings.TrimSuffix(single, ".json") + ".*.json")
	paths = append(paths, more...)

	var merged *Monitor
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read drift state: %w", err)
		}
		m, err := restoreSaved(p, data)
		if err != nil {
			return nil, fmt.Errorf("read drift state %s: %w", filepath.Base(path), err)
		}
		if merged == nil {
			merged = m
			continue
		}
		if err := merged.Merge(m); err != nil {
			return nil, fmt.Errorf("read drift state %s: %w", filepath.Base(path), err)
		}
	}
	if merged == nil {
		return nil, fmt.Errorf("read drift state of %s in %s: %w", k, dir, os.ErrNotExist)
	}
	return merged, nil
}

// restoreSaved resumes a saved monitor with the bucket width it was saved with,
// keeping every bucket it holds.
func restoreSaved(p *Profile, data []byte) (*Monitor, error) {
	var head struct {
		BucketWidth time.Duration `json:"bucket_width_ns"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if head.BucketWidth <= 0 {
		return nil, fmt.Errorf("%w: bucket width %d", ErrInvalid, head.BucketWidth)
	}
	// Every bucket saved is kept, and those of other instances merge in: the files'
	// size, not MaxBuckets, bounds the memory here.
	return RestoreMonitor(p, data, MonitorOptions{BucketWidth: head.BucketWidth,
		MaxBuckets: math.MaxInt32})
}
