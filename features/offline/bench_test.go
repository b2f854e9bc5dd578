package offline_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
)

// benchRows is the size of the benchmarks' table: 50 athletes, 4,000 readings each
// 30 s apart (33 hours, two partitions).
func benchRows() []offline.Row {
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = "athlete-" + string(rune('A'+i/26)) + string(rune('a'+i%26))
	}
	return makeRows(ids, 4000, 30*time.Second)
}

// BenchmarkFlush measures writing buffered rows out as Parquet; the goal is well
// above the ingest rate of a server, some 100,000 rows/s.
func BenchmarkFlush(b *testing.B) {
	rows := benchRows()
	ctx := context.Background()
	s := openStore(b, nil)
	b.ResetTimer()
	for range b.N {
		if err := s.Append(ctx, rows...); err != nil {
			b.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkScan measures reading the table into Arrow batches and touching every
// signal, as a trainer does; the goal is at least 1,000,000 rows/s.
func BenchmarkScan(b *testing.B) {
	rows := benchRows()
	s := openStore(b, nil)
	appendFlush(b, s, rows)
	ctx := context.Background()
	b.ResetTimer()
	var sum float64
	for range b.N {
		n := 0
		for rec, err := range s.Scan(ctx, offline.Query{}) {
			if err != nil {
				b.Fatal(err)
			}
			for c := 4; c < 4+int(features.NumSignals); c++ {
				col := rec.Column(c).(*array.Float64)
				for _, v := range col.Float64Values() {
					sum += v
				}
			}
			n += int(rec.NumRows())
		}
		if n != len(rows) {
			b.Fatalf("scanned %d rows, want %d", n, len(rows))
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
	_ = sum
}

// BenchmarkScanAthlete measures a scan for one athlete of fifty, which row-group
// statistics let skip most of the table.
func BenchmarkScanAthlete(b *testing.B) {
	rows := benchRows()
	s := openStore(b, &offline.Options{RowGroupRows: 16 * 1024})
	appendFlush(b, s, rows)
	ctx := context.Background()
	q := offline.Query{Athletes: []string{rows[len(rows)/2].AthleteID}}
	b.ResetTimer()
	for range b.N {
		n := 0
		for rec, err := range s.Scan(ctx, q) {
			if err != nil {
				b.Fatal(err)
			}
			n += int(rec.NumRows())
		}
		if n != 4000 {
			b.Fatalf("scanned %d rows, want 4000", n)
		}
	}
}

// BenchmarkRows measures decoding rows one by one into offline.Row values, the path
// of the training-set builder.
func BenchmarkRows(b *testing.B) {
	rows := benchRows()
	s := openStore(b, nil)
	appendFlush(b, s, rows)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		n := 0
		for _, err := range s.Rows(ctx, offline.Query{}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != len(rows) {
			b.Fatalf("read %d rows, want %d", n, len(rows))
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}
