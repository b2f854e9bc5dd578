package offline

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet/metadata"

	"github.com/hydrocast/hydrocast/features"
)

// ErrUnknownFormat is returned for an export format other than ExportParquet and
// ExportJSONLines.
var ErrUnknownFormat = errors.New("unknown export format")

// ExportFormat is the file format of an athlete's exported readings.
type ExportFormat string

// The formats ExportAthlete writes.
const (
	// ExportParquet writes one Parquet file of ReadingsSchema.
	ExportParquet ExportFormat = "parquet"
	// ExportJSONLines writes one JSON object a line: athlete_id, source, time,
	// ingest_time (RFC 3339, UTC), late, and each present signal by its name.
	ExportJSONLines ExportFormat = "jsonl"
)

// DeleteAthlete removes every reading of the athlete from the store and returns how
// many it removed. Buffered readings are dropped; each file holding some is written
// anew without them and put in place of the old one in a single rename (or removed
// when nothing else is left), so a reader sees either file whole. Files of other
// writers keep their own schema and metadata. Appends and flushes wait meanwhile.
// Deleting an athlete the store does not hold is not an error.
func (s *Store) DeleteAthlete(ctx context.Context, athleteID string) (int64, error) {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	removed := s.forgetBuffered(athleteID)

	parts, err := s.Partitions(time.Time{}, time.Time{})
	if err != nil {
		return removed, fmt.Errorf("delete athlete: %w", err)
	}
	for _, p := range parts {
		for _, path := range p.Files {
			if err := ctx.Err(); err != nil {
				return removed, fmt.Errorf("delete athlete: %w", err)
			}
			n, err := s.rewriteWithout(ctx, path, athleteID)
			removed += n
			if err != nil {
				return removed, fmt.Errorf("delete athlete from %s: %w", s.relative(path), err)
			}
		}
	}
	return removed, nil
}

// rewriteWithout rewrites the file at path without the athlete's rows and returns
// how many it dropped. Files whose statistics rule the athlete out are not read.
func (s *Store) rewriteWithout(ctx context.Context, path, athleteID string) (int64, error) {
	p, err := openParquet(path, DefaultBatchRows, s.opts.Allocator)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer p.Close()
	if !mayHold(p, athleteID) {
		return 0, nil
	}
	sc, err := p.fr.Schema()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNotReadings, err)
	}

	var dropped, kept int64
	tmp, err := writeTemp(filepath.Dir(path), sc, p.keyValues(), &s.opts,
		func(write func(arrow.Record) error) error {
			var werr error
			err := p.batches(ctx, nil, func(rec arrow.Record) bool {
				d, k, err := writeOthers(rec, athleteID, write)
				dropped, kept, werr = dropped+d, kept+k, err
				return err == nil
			})
			return cmp.Or(werr, err)
		})
	if err != nil {
		return 0, err
	}

	switch {
	case dropped == 0:
		return 0, os.Remove(tmp)
	case kept == 0:
		os.Remove(tmp)
		if err := os.Remove(path); err != nil {
			return 0, fmt.Errorf("remove emptied file: %w", err)
		}
		return dropped, syncDir(filepath.Dir(path))
	}
	return dropped, replaceFile(tmp, path)
}

// mayHold reports whether the file's athlete_id statistics leave room for the
// athlete; a file without statistics may hold anyone.
func mayHold(p *parquetFile, athleteID string) bool {
	col := p.pf.MetaData().Schema.ColumnIndexByName(ColAthleteID)
	if col < 0 {
		return true
	}
	for g := range p.pf.NumRowGroups() {
		st, ok := stats[*metadata.ByteArrayStatistics](p.pf.MetaData().RowGroup(g), col)
		if !ok || (string(st.Min()) <= athleteID && athleteID <= string(st.Max())) {
			return true
		}
	}
	return false
}

// writeOthers writes the rows of rec that are not the athlete's, in runs, and
// returns how many it dropped and kept.
func writeOthers(rec arrow.Record, athleteID string,
	write func(arrow.Record) error) (dropped, kept int64, err error) {
	ids, ok := column[*array.String](rec, ColAthleteID)
	if !ok {
		return 0, 0, fmt.Errorf("column %s: %w", ColAthleteID, ErrNotReadings)
	}
	n := int(rec.NumRows())
	start := 0
	for i := 0; i <= n; i++ {
		if i < n && ids.Value(i) != athleteID {
			continue
		}
		if i > start {
			part := rec.NewSlice(int64(start), int64(i))
			err := write(part)
			part.Release()
			if err != nil {
				return dropped, kept, err
			}
			kept += int64(i - start)
		}
		if i < n {
			dropped++
		}
		start = i + 1
	}
	return dropped, kept, nil
}

// ExportAthlete writes every reading of the athlete, buffered ones included, to w in
// the given format, in event-time order, and returns how many it wrote. It reads
// one day of the athlete's readings into memory at a time.
func (s *Store) ExportAthlete(ctx context.Context, athleteID string, w io.Writer,
	format ExportFormat) (int64, error) {
	if format != ExportParquet && format != ExportJSONLines {
		return 0, fmt.Errorf("export athlete as %q: %w", format, ErrUnknownFormat)
	}
	if err := s.Flush(ctx); err != nil {
		return 0, fmt.Errorf("export athlete: %w", err)
	}

	var n int64
	days := s.athleteDays(ctx, athleteID)
	var err error
	if format == ExportParquet {
		err = WriteParquet(w, readingsSchema, nil, s.opts.RowGroupRows,
			func(write func(arrow.Record) error) error {
				for rows, err := range days {
					if err != nil {
						return err
					}
					rec := NewRecord(s.opts.Allocator, rows)
					err = write(rec)
					rec.Release()
					if err != nil {
						return err
					}
					n += int64(len(rows))
				}
				return nil
			})
	} else {
		n, err = writeJSONLines(w, days)
	}
	if err != nil {
		return n, fmt.Errorf("export athlete: %w", err)
	}
	return n, nil
}

// athleteDays yields the athlete's readings a partition at a time, sorted by event
// time, then source, then ingest time.
func (s *Store) athleteDays(ctx context.Context, athleteID string) func(
	yield func([]Row, error) bool) {
	return func(yield func([]Row, error) bool) {
		for day, err := range s.Days(ctx, Query{Athletes: []string{athleteID}}) {
			if err != nil {
				yield(nil, err)
				return
			}
			slices.SortStableFunc(day.Rows, func(a, b Row) int {
				return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Source, b.Source),
					a.IngestTime.Compare(b.IngestTime))
			})
			if !yield(day.Rows, nil) {
				return
			}
		}
	}
}

// writeJSONLines writes rows as JSON lines, keys in a fixed order.
func writeJSONLines(w io.Writer, days func(yield func([]Row, error) bool)) (int64, error) {
	bw := bufio.NewWriter(w)
	var n int64
	var line []byte
	for rows, err := range days {
		if err != nil {
			return n, err
		}
		for i := range rows {
			line = appendJSONRow(line[:0], &rows[i])
			if _, err := bw.Write(line); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, bw.Flush()
}

// appendJSONRow appends one row as a JSON object and a newline.
func appendJSONRow(b []byte, r *Row) []byte {
	str := func(b []byte, s string) []byte {
		q, _ := json.Marshal(s) // a string always marshals
		return append(b, q...)
	}
	b = append(b, `{"athlete_id":`...)
	b = str(b, r.AthleteID)
	b = append(b, `,"source":`...)
	b = str(b, r.Source)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","ingest_time":`...)
	if r.IngestTime.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = r.IngestTime.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `,"late":`...)
	b = strconv.AppendBool(b, r.Late)
	for s := range features.NumSignals {
		v := r.Values[s]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			// JSON has no infinity; validated readings never carry one.
			continue
		}
		b = append(b, ',', '"')
		b = append(b, s.Name()...)
		b = append(b, '"', ':')
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '}', '\n')
}
