package training

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/models"
)

// familyLabels are the label columns that put a row into a family's dataset; a
// training-set file without any of them trains nothing.
var familyLabels = []string{models.OutSweatRate, models.OutCoreTemp15m,
	models.OutCoreTemp30m, models.OutCoreTemp60m, LabelFault}

// ErrTrainingSetChanged means a file of a ParquetSource held other bytes in a later
// pass than in the first: the passes of one training run must read the same data.
var ErrTrainingSetChanged = errors.New("training set changed between passes")

// ParquetOptions tune a ParquetSource; the zero value is ready to use.
type ParquetOptions struct {
	// BatchRows is the most rows of a batch; zero means
	// offline.DefaultFileBatchRows. Memory holds one batch: some 1.2 KB a row.
	BatchRows int
	// Allocator allocates the batches; nil means memory.DefaultAllocator.
	Allocator memory.Allocator
}

// ParquetSource is a training set in Parquet files, such as pit.WriteParquet
// writes: one file, or a folder of them read in name order. It is a RecordSource:
// each call of Records streams every file again from the start, a batch at a
// time, and the files' bytes go through a SHA-256 on the way, which Fingerprint
// returns, hashed while they are decoded. A file whose bytes differ from those of
// the first pass fails the pass with ErrTrainingSetChanged once it has been read,
// so a consumer that stops at the error, as training does, never completes a pass
// over other data.
//
// The batches hold the columns training reads: the features some family reads and
// every column outside the feature schema (identity, session, labels). The other
// features, their status columns and freshest_reading are not decoded: a feature
// counts as present when it has a value. A ParquetSource is not safe for concurrent use.
type ParquetSource struct {
	paths       []string
	opts        ParquetOptions
	digests     [][]byte // per file, the running digest after it in the first pass that read it
	fingerprint string   // of the last complete pass
}

// OpenParquetSource opens the training set at path: a Parquet file, or a folder
// whose *.parquet files (not hidden ones) make the set. It checks that every file
// is readable Parquet with the columns athlete_id (string), as_of (timestamp) and at
// least one family's label column, and names the file and what it lacks; such
// errors wrap ErrTrainingSet or offline.ErrDamaged. o may be nil.
func OpenParquetSource(path string, o *ParquetOptions) (*ParquetSource, error) {
	s := &ParquetSource{}
	if o != nil {
		s.opts = *o
	}
	paths, err := trainingSetFiles(path)
	if err != nil {
		return nil, err
	}
	s.paths = paths
	s.digests = make([][]byte, len(paths))
	for _, p := range paths {
		f, err := offline.OpenFile(p, s.opts.Allocator)
		if err != nil {
			return nil, fmt.Errorf("open training set: %w", err)
		}
		_, err = trainingSetColumns(f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// trainingSetFiles lists the files of the training set at path, in name order.
func trainingSetFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open training set: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("open training set: %w", err)
	}
	var paths []string
	for _, e := range entries {
		n := e.Name()
		// Hidden and underscore names are writers' temporary files or other tools'
		// markers, as in the offline store.
		if e.Type().IsRegular() && strings.HasSuffix(n, ".parquet") &&
			!strings.HasPrefix(n, ".") && !strings.HasPrefix(n, "_") {
			paths = append(paths, filepath.Join(path, n))
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("open training set: %w: folder %s holds no .parquet file",
			ErrTrainingSet, path)
	}
	return paths, nil
}

// trainingSetColumns checks a file's schema and returns the columns to read.
func trainingSetColumns(f *offline.File) ([]string, error) {
	sc := f.Schema()
	var missing []string
	for _, c := range []struct {
		name, want string
		ok         func(arrow.DataType) bool
	}{
		{ColumnAthlete, "a string", func(t arrow.DataType) bool { return t.ID() == arrow.STRING }},
		{ColumnAsOf, "a timestamp", func(t arrow.DataType) bool {
			return t.ID() == arrow.TIMESTAMP
		}},
	} {
		i := sc.FieldIndices(c.name)
		switch {
		case len(i) == 0:
			missing = append(missing, "column "+c.name)
		case !c.ok(sc.Field(i[0]).Type):
			return nil, fmt.Errorf("training set %s: %w: column %s is %s, want %s", f.Name(),
				ErrTrainingSet, c.name, sc.Field(i[0]).Type, c.want)
		}
	}
	if !slices.ContainsFunc(familyLabels, sc.HasField) {
		missing = append(missing, "label column ("+strings.Join(familyLabels, ", ")+")")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("training set %s: %w: no %s", f.Name(), ErrTrainingSet,
			strings.Join(missing, ", no "))
	}

	cols := make([]string, 0, sc.NumFields())
	for _, fd := range sc.Fields() {
		if readColumn(fd.Name) {
			cols = append(cols, fd.Name)
		}
	}
	return cols, nil
}

// familyFeatures holds the features some family reads; the baselines read only
// features of their families too.
var familyFeatures = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range models.Families {
		for _, name := range f.Features {
			m[name] = true
		}
	}
	return m
}()

// readColumn reports whether training reads the column name: every column outside
// the feature schema (identity, session, labels) and the features some family
// reads. A feature's status, freshest_reading and the features no family reads
// (most of a point-in-time set's columns) are left undecoded.
func readColumn(name string) bool {
	if name == ColumnAthlete || name == ColumnAsOf || familyFeatures[name] {
		return true
	}
	return !features.ArrowSchema().HasField(name)
}

// Records streams the training set's batches, file by file in name order, each
// released when yield returns. Each call reads the files again from the start.
func (s *ParquetSource) Records(ctx context.Context) iter.Seq2[arrow.Record, error] {
	return func(yield func(arrow.Record, error) bool) {
		sum := sha256.New()
		for i := range s.paths {
			more, err := s.readFile(ctx, i, sum, yield)
			if err != nil {
				yield(nil, err)
				return
			}
			if !more {
				return
			}
		}
		s.fingerprint = hex.EncodeToString(sum.Sum(nil))
	}
}

// readFile hashes file i into sum, then yields its batches; false when the
// consumer stopped.
func (s *ParquetSource) readFile(ctx context.Context, i int, sum hash.Hash,
	yield func(arrow.Record, error) bool) (bool, error) {
	path := s.paths[i]
	name := filepath.Base(path)
	fh, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("read training set: %w", err)
	}
	// The file is hashed on a second handle while it is decoded, so that both
	// cores work; the digest is checked once the file has been read.
	hf, err := os.Open(path)
	if err != nil {
		fh.Close()
		return false, fmt.Errorf("read training set: %w", err)
	}
	type hashed struct {
		digest []byte
		err    error
	}
	done := make(chan hashed, 1)
	go func() {
		defer hf.Close()
		if err := hashFile(hf, name, sum); err != nil {
			done <- hashed{err: err}
			return
		}
		// The running digest, of this file and the ones before it, tells whether the
		// file changed since the first pass: the files before it were found unchanged
		// already, or the pass would have stopped there. One SHA-256 over the bytes
		// serves the fingerprint and the check; Sum leaves sum as it was.
		done <- hashed{digest: sum.Sum(nil)}
	}()
	// Every return waits for the hash, which writes to sum.
	var h *hashed
	wait := func() hashed {
		if h == nil {
			r := <-done
			h = &r
		}
		return *h
	}
	defer wait()

	// The Parquet reader closes fh once it has it.
	f, err := offline.NewFile(fh, name, s.opts.Allocator)
	if err != nil {
		fh.Close()
		return false, fmt.Errorf("read training set: %w", err)
	}
	defer f.Close()
	cols, err := trainingSetColumns(f)
	if err != nil {
		return false, err
	}
	for rec, err := range f.Batches(ctx, offline.BatchOptions{Rows: s.opts.BatchRows,
		Columns: cols}) {
		if err != nil {
			return false, fmt.Errorf("read training set: %w", err)
		}
		if !yield(rec, nil) {
			return false, nil
		}
	}
	r := wait()
	if r.err != nil {
		return false, fmt.Errorf("read training set %s: %w", name, r.err)
	}
	if s.digests[i] == nil {
		s.digests[i] = r.digest
	} else if !slices.Equal(s.digests[i], r.digest) {
		return false, fmt.Errorf("read training set %s: %w", name, ErrTrainingSetChanged)
	}
	return true, nil
}

// hashFile writes the file's name, length and bytes to sum. The length makes the
// concatenation unambiguous.
func hashFile(f *os.File, name string, sum hash.Hash) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], uint64(len(name)))
	sum.Write(head[:])
	sum.Write([]byte(name))
	binary.BigEndian.PutUint64(head[:], uint64(st.Size()))
	sum.Write(head[:])

	// Reads far larger than io.Copy's 32 KiB make fewer system calls; this size
	// still stays in a core's cache between the read and the hash.
	buf := make([]byte, hashBufferSize)
	n, err := io.CopyBuffer(sum, io.NewSectionReader(f, 0, st.Size()), buf)
	if err != nil {
		return err
	}
	if n != st.Size() {
		return fmt.Errorf("read %d of %d bytes", n, st.Size())
	}
	return nil
}

// hashBufferSize is the size of hashFile's reads.
const hashBufferSize = 256 << 10

// Fingerprint returns the SHA-256, in lowercase hex, of the files' names and bytes
// as the last complete pass of Records read them; empty before one. Every complete
// pass gives the same, since a pass over other bytes fails.
func (s *ParquetSource) Fingerprint() string { return s.fingerprint }

// Files returns the paths of the training set's files, in the order they are read.
func (s *ParquetSource) Files() []string { return slices.Clone(s.paths) }
