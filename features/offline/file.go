package offline

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/hydrocast/hydrocast/features/internal/pqfile"
)

// ErrDamaged is wrapped by the errors of a Parquet file that File cannot decode:
// one cut short, with damaged bytes, or not Parquet at all.
var ErrDamaged = pqfile.ErrDamaged

// DefaultFileBatchRows is the batch size of File.Batches when none is given. It is
// smaller than a scan's (DefaultBatchRows) because a training set's rows are some
// 300 columns wide: 8,192 of them make a batch of some 10 MB.
const DefaultFileBatchRows = 8 * 1024

// File is one Parquet file of any schema, such as a training set, opened for
// reading record batches. It opens files through package pqfile and decodes every
// column in the caller's goroutine, where the decoder's panics are recovered, so
// that a bad file comes back as an error wrapping ErrDamaged and naming the file,
// never as a panic. A File is not safe for concurrent use.
//
// TODO: a damaged page header can still make Arrow v17's decoder spin for minutes
// (see FuzzFile); a reader of untrusted files needs a deadline it cannot give yet.
type File struct {
	name   string
	mem    memory.Allocator
	pf     *file.Reader
	fr     *pqarrow.FileReader
	schema *arrow.Schema
}

// OpenFile opens the Parquet file at path; mem allocates the batches (nil means
// memory.DefaultAllocator). The caller closes the File.
func OpenFile(path string, mem memory.Allocator) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	pf, err := NewFile(f, filepath.Base(path), mem)
	if err != nil {
		f.Close()
		return nil, err
	}
	return pf, nil
}

// NewFile reads a Parquet file from r, calling it name in errors. Close closes r
// when it is an io.Closer.
func NewFile(r parquet.ReaderAtSeeker, name string, mem memory.Allocator) (*File, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	fr, err := pqfile.Open(r, pqarrow.ArrowReadProperties{BatchSize: DefaultFileBatchRows}, mem)
	if err != nil {
		return nil, fmt.Errorf("parquet file %s: %w", name, err)
	}
	f := &File{name: name, mem: mem, pf: fr.ParquetReader(), fr: fr}
	if f.schema, err = f.readSchema(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readSchema converts the file's Parquet schema, which a damaged file can make the
// converter panic on.
func (f *File) readSchema() (sc *arrow.Schema, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = f.panicked(p)
		}
	}()
	sc, err = f.fr.Schema()
	if err != nil {
		return nil, f.damaged(err)
	}
	return sc, nil
}

// panicked is the error of a decoder panic.
func (f *File) panicked(p any) error {
	return fmt.Errorf("parquet file %s: %w: decoder failed: %v", f.name, ErrDamaged, p)
}

// Name returns the name the file is called in errors.
func (f *File) Name() string { return f.name }

// Schema returns the file's Arrow schema, with the types of its Parquet schema: a
// schema stored by an Arrow writer is not trusted (see package pqfile), so schema
// and field metadata are not restored; the file's key-value metadata is in
// KeyValues.
func (f *File) Schema() *arrow.Schema { return f.schema }

// NumRows returns the number of rows the file's footer declares.
func (f *File) NumRows() int64 { return f.pf.NumRows() }

// KeyValues returns the file's key-value metadata, without the Arrow schema that
// Arrow writers store among it.
func (f *File) KeyValues() [][2]string {
	return (&parquetFile{pf: f.pf}).keyValues()
}

// Close releases the file, and closes the reader it was made from.
func (f *File) Close() error { return f.pf.Close() }

// BatchOptions choose what File.Batches reads.
type BatchOptions struct {
	// Rows is the most rows a batch holds; zero means DefaultFileBatchRows.
	Rows int
	// Columns names the columns to read, in the file's order whatever their order
	// here; nil reads every column. A name the file lacks is an error.
	Columns []string
}

// Batches yields the file's record batches, in file order, each released once
// yield returns: memory holds one batch (and the row group pages it is decoded
// from). A damaged file yields an error wrapping ErrDamaged that names the file,
// after the batches read before the damage; a panic of yield's own goes on up.
func (f *File) Batches(ctx context.Context, o BatchOptions) iter.Seq2[arrow.Record, error] {
	return func(yield func(arrow.Record, error) bool) {
		if err := f.batches(ctx, o, yield); err != nil {
			yield(nil, err)
		}
	}
}

func (f *File) batches(ctx context.Context, o BatchOptions,
	yield func(arrow.Record, error) bool) error {
	leaves, err := f.columnIndices(o.Columns)
	if err != nil {
		return err
	}
	rows := int64(DefaultFileBatchRows)
	if o.Rows > 0 {
		rows = int64(o.Rows)
	}
	return f.read(ctx, leaves, nil, rows, func(rec arrow.Record) bool {
		return yield(rec, nil)
	})
}

// read yields batches of up to rows rows of the given leaf columns and row groups
// (nil: all), each released once yield returns; the decoder's panics come back as
// errors wrapping ErrDamaged, while a panic of yield's own goes on up.
func (f *File) read(ctx context.Context, leaves, rowGroups []int, rows int64,
	yield func(arrow.Record) bool) (err error) {
	inYield := false
	defer func() {
		if inYield {
			return // a panic of the caller's, not the decoder's: let it go on
		}
		if p := recover(); p != nil {
			err = f.panicked(p)
		}
	}()
	readers, sc, err := f.columnReaders(ctx, leaves, rowGroups)
	if err != nil {
		return err
	}
	defer func() {
		for _, r := range readers {
			r.Release()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := f.nextBatch(readers, sc, rows)
		if err != nil || rec == nil {
			return err
		}
		inYield = true
		more := yield(rec)
		inYield = false
		rec.Release()
		if !more {
			return nil
		}
	}
}

// columnReaders returns readers of the given leaf columns over every row group,
// built in this goroutine: pqarrow's GetRecordReader builds them in goroutines of
// its own, where a panic on a damaged column chunk would end the process.
func (f *File) columnReaders(ctx context.Context,
	leaves, rowGroups []int) ([]*pqarrow.ColumnReader, *arrow.Schema, error) {
	fields, err := f.fr.Manifest.GetFieldIndices(leaves)
	if err != nil {
		return nil, nil, f.damaged(err)
	}
	included := make(map[int]bool, len(leaves))
	for _, l := range leaves {
		included[l] = true
	}
	if rowGroups == nil {
		rowGroups = make([]int, f.pf.NumRowGroups())
		for i := range rowGroups {
			rowGroups[i] = i
		}
	}

	readers := make([]*pqarrow.ColumnReader, 0, len(fields))
	out := make([]arrow.Field, 0, len(fields))
	for _, fi := range fields {
		r, err := f.fr.GetFieldReader(ctx, fi, included, rowGroups)
		if err != nil {
			for _, r := range readers {
				r.Release()
			}
			return nil, nil, f.damaged(err)
		}
		readers = append(readers, r)
		out = append(out, *r.Field())
	}
	return readers, arrow.NewSchema(out, f.fr.Manifest.SchemaMeta), nil
}

// nextBatch reads the next batch of up to rows rows from every column; nil at the
// end of the file. Columns of differing lengths mean a damaged file.
func (f *File) nextBatch(readers []*pqarrow.ColumnReader, sc *arrow.Schema,
	rows int64) (arrow.Record, error) {
	cols := make([]arrow.Array, 0, len(readers))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, r := range readers {
		chunked, err := r.NextBatch(rows)
		if err != nil {
			return nil, f.damaged(err)
		}
		col, err := f.single(chunked)
		chunked.Release()
		if err != nil {
			return nil, err
		}
		cols = append(cols, col)
		if n := col.Len(); n != cols[0].Len() {
			return nil, f.damaged(fmt.Errorf("column %s has %d rows, column %s %d",
				sc.Field(len(cols)-1).Name, n, sc.Field(0).Name, cols[0].Len()))
		}
	}
	if len(cols) == 0 || cols[0].Len() == 0 {
		return nil, nil
	}
	return array.NewRecord(sc, cols, int64(cols[0].Len())), nil
}

// single joins a column's chunks, which a batch spanning row groups may have.
func (f *File) single(chunked *arrow.Chunked) (arrow.Array, error) {
	switch chunks := chunked.Chunks(); len(chunks) {
	case 0:
		return array.MakeArrayOfNull(f.mem, chunked.DataType(), 0), nil
	case 1:
		chunks[0].Retain()
		return chunks[0], nil
	default:
		col, err := array.Concatenate(chunks, f.mem)
		if err != nil {
			return nil, f.damaged(err)
		}
		return col, nil
	}
}

// damaged wraps a decoder error with ErrDamaged and the file's name.
func (f *File) damaged(err error) error {
	if errors.Is(err, ErrDamaged) {
		return fmt.Errorf("parquet file %s: %w", f.name, err)
	}
	return fmt.Errorf("parquet file %s: %w: %w", f.name, ErrDamaged, err)
}

// columnIndices maps column names to the file's leaf column indices, which are the
// top-level columns of the flat schemas this package reads.
func (f *File) columnIndices(names []string) ([]int, error) {
	sc := f.pf.MetaData().Schema
	if names == nil {
		all := make([]int, sc.NumColumns())
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	idx := make([]int, 0, len(names))
	for _, n := range names {
		i := sc.ColumnIndexByName(n)
		if i < 0 {
			return nil, fmt.Errorf("parquet file %s: no column %q", f.name, n)
		}
		idx = append(idx, i)
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	if len(idx) == 0 {
		return nil, fmt.Errorf("parquet file %s: no column to read", f.name)
	}
	return idx, nil
}

// ReadFile yields the record batches of the Parquet file at path, batchRows rows at
// most each (zero means DefaultFileBatchRows), as File.Batches does, and closes the
// file when done.
func ReadFile(ctx context.Context, path string, batchRows int) iter.Seq2[arrow.Record, error] {
	return func(yield func(arrow.Record, error) bool) {
		f, err := OpenFile(path, nil)
		if err != nil {
			yield(nil, err)
			return
		}
		defer f.Close()
		for rec, err := range f.Batches(ctx, BatchOptions{Rows: batchRows}) {
			if !yield(rec, err) {
				return
			}
		}
	}
}
