package pqfile_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/hydrocast/hydrocast/features/internal/pqfile"
)

// withSchemaEntry writes a one-column Parquet file whose ARROW:schema entry is the
// given bytes instead of a real Arrow schema.
func withSchemaEntry(t *testing.T, schemaMsg []byte) []byte {
	t.Helper()
	tsType := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	sc := arrow.NewSchema([]arrow.Field{{Name: "time", Type: tsType}}, nil)
	b := array.NewTimestampBuilder(memory.DefaultAllocator, tsType)
	b.Append(1_752_485_400_000_000)
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecord(sc, []arrow.Array{col}, 1)
	defer rec.Release()

	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sc, &buf, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AppendKeyValueMetadata("ARROW:schema",
		base64.StdEncoding.EncodeToString(schemaMsg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestIgnoresStoredSchema checks that a file whose stored Arrow schema is garbage
// opens all the same, with its types taken from the Parquet schema, where Arrow's
// own reader refuses it.
func TestIgnoresStoredSchema(t *testing.T) {
	data := withSchemaEntry(t, []byte("\xff\xff\xff\xff\x00\x00\x00\x7fnot a schema"))

	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{},
		memory.DefaultAllocator); err == nil {
		t.Fatal("Arrow's reader accepted the garbage schema: this test no longer shows " +
			"that Open does better")
	}

	fr, err := pqfile.Open(bytes.NewReader(data), pqarrow.ArrowReadProperties{BatchSize: 8},
		memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sc, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	want := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	if got := sc.Field(0).Type; !arrow.TypeEqual(got, want) {
		t.Fatalf("time column is %s, want %s", got, want)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() || rr.Record().NumRows() != 1 {
		t.Fatalf("no row: %v", rr.Err())
	}
}

func TestRefusesParallelReads(t *testing.T) {
	_, err := pqfile.Open(bytes.NewReader(nil), pqarrow.ArrowReadProperties{Parallel: true},
		memory.DefaultAllocator)
	if err == nil {
		t.Fatal("parallel reads accepted")
	}
}

func TestDamagedIsAnError(t *testing.T) {
	_, err := pqfile.Open(bytes.NewReader([]byte("PAR1 nothing PAR1")),
		pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if !errors.Is(err, pqfile.ErrDamaged) {
		t.Fatalf("error %v, want ErrDamaged", err)
	}
}
