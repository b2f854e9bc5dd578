package simulate

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/hydrocast/hydrocast/features"
)

var (
	// ErrNotCohort reports a folder or file that is not a complete cohort of this
	// generator's layout: no manifest, a missing or mistyped column, a corrupt file.
	ErrNotCohort = errors.New("not a simulated cohort")

	// ErrGeneratorVersion reports a cohort written by another generator version,
	// whose layout or physiology this one does not promise to read.
	ErrGeneratorVersion = errors.New("cohort of another generator version")

	// ErrChecksum reports a cohort file whose size or checksum differs from the
	// manifest's.
	ErrChecksum = errors.New("cohort file changed since it was written")
)

// Cohort is a generated cohort read back from its folder: its manifest and tables,
// and access to its readings.
type Cohort struct {
	Dir      string
	Manifest Manifest
	Athletes []Athlete // in id order
	Sessions []Session // by athlete, then start
	Faults   []Fault   // by athlete, start, then signal

	partitions []string // reading files, slash-separated paths relative to Dir
}

// LoadCohort reads the manifest, athletes, sessions and faults of the cohort in dir.
// Readings stay on disk until iterated with Readings.
func LoadCohort(dir string) (Cohort, error) {
	c := Cohort{Dir: dir}
	data, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("load cohort: %w: no %s", ErrNotCohort, manifestFile)
	}
	if err != nil {
		return c, fmt.Errorf("load cohort: %w", err)
	}
	if err := json.Unmarshal(data, &c.Manifest); err != nil {
		return c, fmt.Errorf("load cohort: %w: manifest: %w", ErrNotCohort, err)
	}
	if v := c.Manifest.GeneratorVersion; v != GeneratorVersion {
		return c, fmt.Errorf("load cohort: %w: %q, this is %q", ErrGeneratorVersion, v,
			GeneratorVersion)
	}

	if c.Athletes, err = loadTable(dir, athletesFile, decodeAthletes); err != nil {
		return c, err
	}
	if c.Sessions, err = loadTable(dir, sessionsFile, decodeSessions); err != nil {
		return c, err
	}
	if c.Faults, err = loadTable(dir, faultsFile, decodeFaults); err != nil {
		return c, err
	}
	for _, f := range c.Manifest.Files {
		if strings.HasPrefix(f.Path, readingsDir+"/") {
			c.partitions = append(c.partitions, f.Path)
		}
	}

	n := c.Manifest.Counts
	if len(c.Athletes) != n.Athletes || len(c.Sessions) != n.Sessions ||
		len(c.Faults) != n.Faults {
		return c, fmt.Errorf("load cohort: %w: tables disagree with the manifest's counts",
			ErrNotCohort)
	}
	return c, nil
}

func loadTable[T any](dir, name string, decode func(*view) []T) ([]T, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("load cohort: %w", err)
	}
	defer f.Close()
	rows, err := readAll(context.Background(), f, decode)
	if err != nil {
		return nil, fmt.Errorf("load cohort: read %s: %w", name, err)
	}
	return rows, nil
}

// Verify checks every file of the manifest against its recorded size and checksum.
func (c Cohort) Verify() error {
	for _, f := range c.Manifest.Files {
		if err := verifyFile(c.Dir, f); err != nil {
			return fmt.Errorf("verify cohort: %w", err)
		}
	}
	return nil
}

func verifyFile(dir string, want File) error {
	fh, err := os.Open(filepath.Join(dir, filepath.FromSlash(want.Path)))
	if err != nil {
		return err
	}
	defer fh.Close()
	sum := sha256.New()
	n, err := io.Copy(sum, fh)
	if err != nil {
		return fmt.Errorf("read %s: %w", want.Path, err)
	}
	if n != want.Bytes || hex.EncodeToString(sum.Sum(nil)) != want.SHA256 {
		return fmt.Errorf("%w: %s", ErrChecksum, want.Path)
	}
	return nil
}

// Readings returns an iterator over every reading of the cohort, ordered by athlete
// id, then time, then source. It streams the daily files side by side, holding one
// batch of each in memory. On an error it yields the error once and stops.
func (c Cohort) Readings(ctx context.Context) iter.Seq2[features.Reading, error] {
	return func(yield func(features.Reading, error) bool) {
		m, err := openMerge(ctx, c.Dir, c.partitions)
		if err != nil {
			yield(features.Reading{}, fmt.Errorf("read cohort readings: %w", err))
			return
		}
		defer m.close()
		for m.Len() > 0 {
			cur := m.cursors[0]
			if !yield(cur.head(), nil) {
				return
			}
			if err := cur.advance(); err != nil {
				yield(features.Reading{}, fmt.Errorf("read cohort readings: %w", err))
				return
			}
			if cur.done() {
				heap.Pop(m)
			} else {
				heap.Fix(m, 0)
			}
		}
	}
}

// cursor walks the readings of one daily file.
type cursor struct {
	ctx  context.Context
	file *os.File
	b    *batches
	rows []features.Reading
	i    int
}

func openCursor(ctx context.Context, dir, rel string) (*cursor, error) {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	b, err := openBatches(ctx, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	cur := &cursor{ctx: ctx, file: f, b: b}
	if err := cur.load(); err != nil {
		cur.close()
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return cur, nil
}

// load decodes batches until one has rows or the file ends.
func (c *cursor) load() error {
	c.rows, c.i = nil, 0
	for len(c.rows) == 0 {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		rec := c.b.next()
		if rec == nil {
			return c.b.err
		}
		v := &view{rec: rec}
		if c.rows = decodeReadings(v); v.err != nil {
			return v.err
		}
	}
	return nil
}

func (c *cursor) head() features.Reading { return c.rows[c.i] }
func (c *cursor) done() bool             { return c.i >= len(c.rows) }

func (c *cursor) advance() error {
	if c.i++; c.i < len(c.rows) {
		return nil
	}
	return c.load()
}

func (c *cursor) close() {
	c.b.close()
	c.file.Close()
}

// merge is a min-heap of cursors ordered by their head reading.
type merge struct{ cursors []*cursor }

func openMerge(ctx context.Context, dir string, parts []string) (*merge, error) {
	m := &merge{}
	for _, p := range parts {
		cur, err := openCursor(ctx, dir, p)
		if err != nil {
			m.close()
			return nil, err
		}
		if cur.done() {
			cur.close()
			continue
		}
		m.cursors = append(m.cursors, cur)
	}
	heap.Init(m)
	return m, nil
}

func (m *merge) close() {
	for _, c := range m.cursors {
		c.close()
	}
	m.cursors = nil
}

func (m *merge) Len() int { return len(m.cursors) }

func (m *merge) Less(i, j int) bool {
	return readingBefore(&m.cursors[i].rows[m.cursors[i].i], &m.cursors[j].rows[m.cursors[j].i])
}

func (m *merge) Swap(i, j int) { m.cursors[i], m.cursors[j] = m.cursors[j], m.cursors[i] }
func (m *merge) Push(x any)    { m.cursors = append(m.cursors, x.(*cursor)) }

func (m *merge) Pop() any {
	last := m.cursors[len(m.cursors)-1]
	m.cursors = m.cursors[:len(m.cursors)-1]
	last.close()
	return last
}

// readingBefore orders readings by athlete, time, then source.
func readingBefore(a, b *features.Reading) bool {
	if a.AthleteID != b.AthleteID {
		return a.AthleteID < b.AthleteID
	}
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.Source < b.Source
}
