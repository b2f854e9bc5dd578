package training_test

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/pit"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/training"
)

// benchTrainingRows is the size of the benchmark's training set.
const benchTrainingRows = 200_000

// BenchmarkParquetTrainingBatches reads a 200,000-row training set of the
// point-in-time schema through ParquetSource into the record batches training
// consumes, touching every value of every column read, and reports rows/s: the
// figure "Parquet into training batches".
func BenchmarkParquetTrainingBatches(b *testing.B) {
	path := filepath.Join(b.TempDir(), "set.parquet")
	writeSyntheticTrainingSet(b, path, benchTrainingRows)

	b.ResetTimer()
	for range b.N {
		for range readsPerOp {
			readTrainingBatches(b, path)
		}
	}
	b.ReportMetric(float64(b.N*readsPerOp*benchTrainingRows)/b.Elapsed().Seconds(),
		"rows/s")
}

// readsPerOp is the reads of the file in one op of BenchmarkParquetTrainingBatches,
// which make bench runs once a round.
const readsPerOp = 5

// readTrainingBatches reads the training set at path once through ParquetSource,
// touching every value.
func readTrainingBatches(b *testing.B, path string) {
	src, err := training.OpenParquetSource(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	rows, sum := 0, 0.0
	for rec, err := range src.Records(b.Context()) {
		if err != nil {
			b.Fatal(err)
		}
		rows += int(rec.NumRows())
		for _, col := range rec.Columns() {
			switch c := col.(type) {
			case *array.Float64:
				for _, v := range c.Float64Values() {
					sum += v
				}
			case *array.String:
				for i := range c.Len() {
					sum += float64(len(c.Value(i)))
				}
			}
		}
	}
	if rows != benchTrainingRows || math.IsNaN(sum) {
		b.Fatalf("%d rows, sum %v", rows, sum)
	}
}

// BenchmarkParquetTrainingRows goes one step further than
// BenchmarkParquetTrainingBatches: every batch becomes the families' training rows,
// held in memory (DatasetsFromRecords). For developers; not a row of the table.
func BenchmarkParquetTrainingRows(b *testing.B) {
	path := filepath.Join(b.TempDir(), "set.parquet")
	writeSyntheticTrainingSet(b, path, benchTrainingRows)

	b.ResetTimer()
	for range b.N {
		src, err := training.OpenParquetSource(path, nil)
		if err != nil {
			b.Fatal(err)
		}
		ds, err := training.DatasetsFromRecords(b.Context(), src)
		if err != nil {
			b.Fatal(err)
		}
		if ds.Sweat == nil || ds.Sweat.Rows() != benchTrainingRows/2 {
			b.Fatalf("sweat dataset %v, want %d rows", ds.Sweat, benchTrainingRows/2)
		}
	}
	b.ReportMetric(float64(b.N*benchTrainingRows)/b.Elapsed().Seconds(), "rows/s")
}

// writeSyntheticTrainingSet writes rows rows of pit.Schema straight to a Parquet
// file, without replaying readings: 200 athletes a row a minute, every feature
// present, the sweat label on every other row, the thermal labels on every third
// and the fault label on every row. A feature drifts slowly per athlete with some
// noise, in hundredths, so that the file takes some 290 bytes a row, as one built
// from a simulated cohort does. Row groups are as large as `hydrocast trainingset`
// writes them.
func writeSyntheticTrainingSet(b *testing.B, path string, rows int) {
	b.Helper()
	names := []string{models.OutSweatRate, training.LabelSweatBaseline,
		models.OutCoreTemp15m, models.OutCoreTemp30m, models.OutCoreTemp60m,
		training.LabelFault}
	sc, err := pit.Schema(names, false)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)

	rng := rand.New(rand.NewPCG(3, 5))
	t0 := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	const chunk = 16 * 1024
	groupRows := pit.TrainingRowGroupRows
	err = offline.WriteParquet(w, sc, nil, groupRows, func(write func(arrow.Record) error) error {
		for start := 0; start < rows; start += chunk {
			rec := syntheticRecord(sc, rng, t0, start, min(chunk, rows-start))
			err := write(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// syntheticRecord builds rows [start, start+n) of the synthetic training set.
func syntheticRecord(sc *arrow.Schema, rng *rand.Rand, t0 time.Time, start,
	n int) arrow.Record {
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer rb.Release()
	for i := start; i < start+n; i++ {
		athlete := "athlete-" + string(rune('A'+i%20)) + string(rune('a'+i/20%10))
		at := arrow.Timestamp(t0.Add(time.Duration(i/200) * time.Minute).UnixMilli())
		for j, fd := range sc.Fields() {
			switch bld := rb.Field(j).(type) {
			case *array.StringBuilder:
				bld.Append(athlete)
			case *array.TimestampBuilder:
				bld.Append(at)
			case *array.Uint8Builder:
				bld.Append(1)
			case *array.Float64Builder:
				appendSynthetic(bld, fd.Name, i, rng)
			}
		}
	}
	return rb.NewRecord()
}

// appendSynthetic appends row i's value of a feature or label column.
func appendSynthetic(bld *array.Float64Builder, name string, i int, rng *rand.Rand) {
	switch name {
	case models.OutSweatRate, training.LabelSweatBaseline:
		if i%2 == 0 {
			bld.Append(0.5 + rng.Float64())
			return
		}
	case models.OutCoreTemp15m, models.OutCoreTemp30m, models.OutCoreTemp60m:
		if i%3 == 0 {
			bld.Append(37 + rng.Float64())
			return
		}
	case training.LabelFault:
		bld.Append(float64(rng.IntN(50) / 49))
		return
	default:
		// A slow drift per athlete and feature, with noise, in hundredths as the
		// server's float32 vectors round them.
		athlete, minute := i%200, float64(i/200)
		v := 50 + 20*math.Sin(minute/40+float64(athlete)+float64(len(name))) +
			rng.NormFloat64()
		bld.Append(float64(float32(math.Round(v*100) / 100)))
		return
	}
	bld.AppendNull()
}
