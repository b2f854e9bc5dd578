// Command parquetcsv copies Parquet files to CSV, for notebooks run where pandas has
// no Parquet engine (Debian 12 packages neither pyarrow nor fastparquet).
//
//	go run ./notebooks/parquetcsv SRC DST
//
// SRC is a Parquet file or a folder; every *.parquet file under a folder is copied
// to DST with the same relative path and a .csv extension. Hive partition folders
// (readings/date=2025-07-01/part-0.parquet) become one CSV per partition, which
// pandas reads back with pd.concat.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/csv"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: parquetcsv SRC DST")
		os.Exit(2)
	}
	if err := copyTree(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "parquetcsv:", err)
		os.Exit(1)
	}
}

// copyTree converts src (a file or a folder of Parquet files) into dst.
func copyTree(src, dst string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return convert(src, dst)
	}
	n := 0
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".parquet") {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		n++
		return convert(path, filepath.Join(dst, strings.TrimSuffix(rel, ".parquet")+".csv"))
	})
	if err == nil && n == 0 {
		err = fmt.Errorf("%s holds no .parquet file", src)
	}
	return err
}

// convert writes the Parquet file src as CSV with a header to dst.
func convert(src, dst string) (err error) {
	pf, err := file.OpenParquetFile(src, false)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10},
		memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	table, err := fr.ReadTable(context.Background())
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	defer table.Release()

	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	w := csv.NewWriter(out, table.Schema(), csv.WithHeader(true), csv.WithNullWriter(""))
	tr := array.NewTableReader(table, 64<<10)
	defer tr.Release()
	for tr.Next() {
		if err := w.Write(tr.Record()); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
	}
	if err := tr.Err(); err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	return w.Flush()
}
