// Package pqfile opens Parquet files for Arrow reading in a way that survives
// damaged input: the features packages read files from disk and from users, and a
// bad file must come back as an error, not end the process.
package pqfile

import (
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// ErrDamaged is wrapped by the errors of files the decoder could not read.
var ErrDamaged = errors.New("damaged parquet file")

// arrowSchemaKey is the key-value metadata entry in which Arrow writers store the
// Arrow schema of a file, as an Arrow IPC message.
const arrowSchemaKey = "ARROW:schema"

// Open opens a Parquet file for reading record batches. It ignores the Arrow
// schema a writer may have stored in the file: Arrow's decoder of that message
// trusts its lengths, and a damaged one makes it allocate without bound, which no
// recover can catch. The types come from the Parquet schema instead; they are the
// same for every type hydrocast writes (timestamps keep their unit and UTC mark),
// but schema and field metadata are not restored. A panic of the decoder while
// opening comes back as an error wrapping ErrDamaged; reading batches needs
// Recover too.
//
// Column reads must not run in parallel (ArrowReadProperties.Parallel): they would
// decode in goroutines of Arrow's, beyond any recover. Nor is turning that off
// enough for the record reader (GetRecordReader), which builds its column readers
// in goroutines whatever the setting: build them with GetFieldReader in the
// caller's goroutine, as offline.File does.
func Open(r parquet.ReaderAtSeeker, props pqarrow.ArrowReadProperties,
	mem memory.Allocator) (fr *pqarrow.FileReader, err error) {
	defer Recover(&err)
	if props.Parallel {
		return nil, fmt.Errorf("open parquet file: parallel reads cannot recover from damage")
	}

	pf, err := file.NewParquetReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	md := pf.MetaData()
	kv := md.FileMetaData.KeyValueMetadata
	kept := kv[:0:0]
	for _, e := range kv {
		if e.GetKey() != arrowSchemaKey {
			kept = append(kept, e)
		}
	}
	md.FileMetaData.KeyValueMetadata = kept

	fr, err = pqarrow.NewFileReader(pf, props, mem)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return fr, nil
}

// Recover turns a panic of Arrow's Parquet decoder into an error wrapping
// ErrDamaged; use it deferred around every call that decodes.
func Recover(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w: decoder failed: %v", ErrDamaged, p)
	}
}
