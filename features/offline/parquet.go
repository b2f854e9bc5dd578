package offline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/hydrocast/hydrocast/features/internal/pqfile"
)

// createdBy names the writer in every file's footer.
const createdBy = "hydrocast offline store"

// FieldEncoding is the key of an Arrow field's metadata that tells WriteParquet how
// to encode the field's column; its one value is FieldEncodingPlain. Without it a
// column is dictionary-encoded.
const FieldEncoding = "hydrocast.parquet.encoding"

// FieldEncodingPlain writes a column's values plain, without a dictionary. It suits
// float columns of many distinct values that are null in most rows, such as a
// training set's labels: Arrow v17's reader decodes a dictionary-encoded column
// run of valid values by run, which costs it an allocation and a call per run when
// valid values and nulls alternate, and decodes a plain one in a few copies, some
// five times faster. Readers take either encoding, so files written before read as
// they did.
const FieldEncodingPlain = "plain"

// WriteParquet writes the records, all of schema sc, as one Parquet file to w with
// the key-value metadata meta (pairs of key and value), in row groups of
// rowGroupRows rows (zero means DefaultRowGroupRows), whatever the size of the
// records; memory holds one row group. Records that do not match sc fail. It is how
// every file of this package is written: Snappy compression,
// dictionary encoding (except for fields whose FieldEncoding metadata says
// FieldEncodingPlain) and statistics on, the Arrow schema stored.
func WriteParquet(w io.Writer, sc *arrow.Schema, meta [][2]string, rowGroupRows int,
	records func(write func(arrow.Record) error) error) error {
	if rowGroupRows <= 0 {
		rowGroupRows = DefaultRowGroupRows
	}
	return writeParquet(w, sc, meta, &Options{RowGroupRows: rowGroupRows}, records)
}

func writeParquet(w io.Writer, sc *arrow.Schema, meta [][2]string, o *Options,
	records func(write func(arrow.Record) error) error) (err error) {
	mem := o.Allocator
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	settings := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithMaxRowGroupLength(int64(o.RowGroupRows)),
		parquet.WithCreatedBy(createdBy),
		parquet.WithAllocator(mem),
	}
	for _, fd := range sc.Fields() {
		if v, ok := fd.Metadata.GetValue(FieldEncoding); ok && v == FieldEncodingPlain {
			settings = append(settings, parquet.WithDictionaryFor(fd.Name, false))
		}
	}
	props := parquet.NewWriterProperties(settings...)
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(),
		pqarrow.WithAllocator(mem))

	// The writer would close w; the caller owns it.
	fw, err := pqarrow.NewFileWriter(sc, struct{ io.Writer }{w}, props, arrowProps)
	if err != nil {
		return fmt.Errorf("start parquet file: %w", err)
	}
	defer func() {
		if cerr := fw.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("finish parquet file: %w", cerr)
		}
	}()
	for _, kv := range meta {
		if err := fw.AppendKeyValueMetadata(kv[0], kv[1]); err != nil {
			return fmt.Errorf("add parquet metadata %s: %w", kv[0], err)
		}
	}
	// Buffered writes fill each row group up to its size whatever the size of the
	// records, at the cost of holding one row group in memory.
	if err := records(fw.WriteBuffered); err != nil {
		return fmt.Errorf("write parquet rows: %w", err)
	}
	return nil
}

// writeTemp writes a Parquet file under a hidden temporary name in dir and returns
// its path; the file is synced to disk. On error nothing is left behind.
func writeTemp(dir string, sc *arrow.Schema, meta [][2]string, o *Options,
	records func(write func(arrow.Record) error) error) (path string, err error) {
	f, err := os.CreateTemp(dir, ".part-*.tmp")
	if err != nil {
		return "", fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	bw := bufio.NewWriterSize(f, 1<<20)
	if err := writeParquet(bw, sc, meta, o, records); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// publishNew gives the finished temporary file tmp the first free name
// part-<seq>.parquet of dir. A hard link fails rather than replace an existing
// file, so writers racing for a name each get their own.
func publishNew(tmp, dir string) error {
	seq, err := nextSeq(dir)
	if err != nil {
		return err
	}
	for {
		err := os.Link(tmp, filepath.Join(dir, partName(seq)))
		if errors.Is(err, fs.ErrExist) {
			seq++
			continue
		}
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("publish file: %w", err)
		}
		break
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("remove temporary file: %w", err)
	}
	return syncDir(dir)
}

// replaceFile puts the finished temporary file tmp in place of path in one step: a
// reader opens either the old file or the new one.
func replaceFile(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", filepath.Base(path), err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a folder's new entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	return nil
}

func partName(seq int) string { return "part-" + strconv.Itoa(seq) + ".parquet" }

// partSeq returns the sequence number of a file named part-<seq>.parquet.
func partSeq(name string) (int, bool) {
	num, ok := strings.CutPrefix(name, "part-")
	if !ok {
		return 0, false
	}
	num, ok = strings.CutSuffix(num, ".parquet")
	if !ok {
		return 0, false
	}
	seq, err := strconv.Atoi(num)
	return seq, err == nil && seq >= 0
}

// nextSeq returns one more than the highest sequence number in dir.
func nextSeq(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("list partition: %w", err)
	}
	next := 0
	for _, e := range entries {
		if seq, ok := partSeq(e.Name()); ok && seq >= next {
			next = seq + 1
		}
	}
	return next, nil
}

// isDataFile reports whether a file name is one readers take: a visible .parquet
// file. Hidden and underscore names are temporary files or other tools' markers.
func isDataFile(name string) bool {
	return strings.HasSuffix(name, ".parquet") && !strings.HasPrefix(name, ".") &&
		!strings.HasPrefix(name, "_")
}

// parquetFile is an open Parquet file and its Arrow reader.
type parquetFile struct {
	pf        *file.Reader
	fr        *pqarrow.FileReader
	name      string
	batchRows int
	mem       memory.Allocator
}

// openParquet opens the Parquet file at path for reading batches of batchRows rows.
// A damaged file gives an error wrapping ErrNotReadings.
func openParquet(path string, batchRows int, mem memory.Allocator) (*parquetFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	fr, err := pqfile.Open(f, pqarrow.ArrowReadProperties{BatchSize: int64(batchRows)}, mem)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %w", ErrNotReadings, err)
	}
	return &parquetFile{pf: fr.ParquetReader(), fr: fr, name: filepath.Base(path),
		batchRows: batchRows, mem: mem}, nil
}

func (p *parquetFile) Close() error {
	// The file reader closes the underlying file.
	return p.pf.Close()
}

// keyValues returns the file's key-value metadata other than the stored Arrow
// schema, which the writer adds by itself.
func (p *parquetFile) keyValues() [][2]string {
	var out [][2]string
	kv := p.pf.MetaData().KeyValueMetadata()
	for i, k := range kv.Keys() {
		if k != "ARROW:schema" {
			out = append(out, [2]string{k, kv.Values()[i]})
		}
	}
	return out
}

// batches yields the record batches of the given row groups (nil means all), each
// valid until yield returns. It reads as File does, building the column readers in
// this goroutine: pqarrow's record reader builds them in goroutines of its own,
// where a decoder panic on a damaged column chunk would end the process. The
// decoder's panics and errors come back wrapping ErrNotReadings.
func (p *parquetFile) batches(ctx context.Context, rowGroups []int,
	yield func(arrow.Record) bool) error {
	f := &File{name: p.name, mem: p.mem, pf: p.pf, fr: p.fr}
	leaves, err := f.columnIndices(nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotReadings, err)
	}
	if rowGroups != nil && len(rowGroups) == 0 {
		return nil
	}
	if err := f.read(ctx, leaves, rowGroups, int64(p.batchRows), yield); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrNotReadings, err)
	}
	return nil
}
