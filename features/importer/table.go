package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// The table formats ImportTable reads.
const (
	FormatCSV     Format = "csv"     // comma-separated values with a header line
	FormatParquet Format = "parquet" // Apache Parquet
)

// Time formats of TableOptions.TimeFormat besides Go layouts.
const (
	TimeRFC3339    = "rfc3339" // 2025-07-14T09:30:00Z, fractions and offsets allowed
	TimeUnix       = "unix"    // seconds since 1970 UTC, fractions allowed
	TimeUnixMillis = "unix_ms" // milliseconds since 1970 UTC
)

// Bounds on numeric times, which keep them representable: about the year 5100.
const (
	maxUnixSeconds = 1e11
	maxUnixMillis  = 1e14
)

// TableOptions says how to read a table of readings, one reading a row.
type TableOptions struct {
	// Options give the athlete of every row when AthleteColumn is empty, and the
	// source when SourceColumn is empty or a row's cell is ("csv" or "parquet" when
	// that is empty too).
	Options

	// Columns maps signals to the columns holding them; at least one is required.
	// Signals not mapped are missing from every reading.
	Columns ColumnMap

	// TimeColumn is the column of the event time; required.
	TimeColumn string

	// TimeFormat is TimeRFC3339, TimeUnix, TimeUnixMillis or a Go time layout such
	// as "2006-01-02 15:04:05". Empty means TimeRFC3339. A Parquet timestamp column
	// needs none.
	TimeFormat string

	// Location is the zone of times that carry none (a layout without a zone, a
	// Parquet timestamp not marked UTC); nil means UTC.
	Location *time.Location

	// AthleteColumn, when set, is the column of each row's athlete id.
	AthleteColumn string

	// SourceColumn, when set, is the column of each row's device id.
	SourceColumn string

	// Comma is the CSV field separator; zero means ','.
	Comma rune
}

// check reports options that cannot work, before any input is read.
func (opt *TableOptions) check() error {
	switch {
	case len(opt.Columns) == 0:
		return fmt.Errorf("no signal columns: %w", ErrColumnMap)
	case opt.TimeColumn == "":
		return fmt.Errorf("no time column: %w", ErrColumnMap)
	case opt.AthleteColumn == "" && opt.AthleteID == "":
		return fmt.Errorf("neither an athlete column nor an athlete id: %w", ErrColumnMap)
	}
	switch f := opt.TimeFormat; f {
	case "", TimeRFC3339, TimeUnix, TimeUnixMillis:
	default:
		// A layout formats a time other than its reference time into another text;
		// text without layout elements stays as it is.
		other := time.Date(1999, 12, 31, 23, 59, 58, 0, time.UTC)
		if other.Format(f) == f {
			return fmt.Errorf("time format %q is neither %s, %s, %s nor a Go layout: %w",
				f, TimeRFC3339, TimeUnix, TimeUnixMillis, ErrColumnMap)
		}
	}
	return nil
}

func (opt *TableOptions) location() *time.Location {
	if opt.Location == nil {
		return time.UTC
	}
	return opt.Location
}

// parseTime reads a time cell in the options' format.
func (opt *TableOptions) parseTime(cell string) (time.Time, error) {
	switch opt.TimeFormat {
	case "", TimeRFC3339:
		t, err := time.Parse(time.RFC3339Nano, cell)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", cell)
		}
		return t, nil
	case TimeUnix, TimeUnixMillis:
		v, err := strconv.ParseFloat(cell, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a number", cell)
		}
		return unixTime(v, opt.TimeFormat)
	}
	t, err := time.ParseInLocation(opt.TimeFormat, cell, opt.location())
	if err != nil {
		return time.Time{}, fmt.Errorf("%q does not match the layout %q", cell, opt.TimeFormat)
	}
	return t, nil
}

// unixTime converts seconds or milliseconds since 1970 to a time.
func unixTime(v float64, format string) (time.Time, error) {
	limit := maxUnixSeconds
	if format == TimeUnixMillis {
		limit = maxUnixMillis
	}
	if math.IsNaN(v) || math.Abs(v) > limit {
		return time.Time{}, fmt.Errorf("%g is not a Unix time in %s", v, format)
	}
	whole, frac := math.Modf(v)
	if format == TimeUnixMillis {
		sec := math.Floor(whole / 1000)
		ns := (whole-sec*1000)*1e6 + math.Round(frac*1e6)
		return time.Unix(int64(sec), int64(ns)).UTC(), nil
	}
	return time.Unix(int64(whole), int64(math.Round(frac*1e9))).UTC(), nil
}

// parseValue reads a signal cell: empty, NA, NaN and null are missing.
func parseValue(cell string) (float64, error) {
	switch strings.ToLower(cell) {
	case "", "na", "nan", "null":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(cell, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite number", cell)
	}
	return v, nil
}

// ImportTable reads the CSV or Parquet file at path: Parquet when it starts with
// Parquet's magic bytes or is named .parquet, CSV otherwise. Errors name the path.
func ImportTable(path string, opt TableOptions) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, fmt.Errorf("import %s: %w", path, err)
	}
	defer f.Close()

	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	var res Result
	if bytes.Equal(head[:n], []byte("PAR1")) ||
		strings.EqualFold(filepath.Ext(path), ".parquet") {
		res, err = DecodeParquet(f, opt)
	} else {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return Result{}, fmt.Errorf("import %s: %w", path, err)
		}
		res, err = DecodeCSV(f, opt)
	}
	if err != nil {
		return Result{}, fmt.Errorf("import %s: %w", path, err)
	}
	return res, nil
}

// DecodeCSV reads readings from CSV with a header line, one reading a row, the
// columns chosen by opt. A row with an empty time cell, or without any signal, is
// skipped and counted. Errors name the line and column at fault.
func DecodeCSV(r io.Reader, opt TableOptions) (Result, error) {
	if err := opt.check(); err != nil {
		return Result{}, err
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	if opt.Comma != 0 {
		cr.Comma = opt.Comma
	}

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return Result{}, fmt.Errorf("csv input: %w", ErrNoReadings)
	}
	if err != nil {
		return Result{}, malformed("csv header: %w", err)
	}
	cols, err := csvColumns(header, &opt)
	if err != nil {
		return Result{}, err
	}

	var res Result
	source := opt.sourceOr(FormatCSV)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Result{}, malformed("csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		r, ok, err := cols.reading(rec, &opt, source)
		if err != nil {
			return Result{}, malformed("csv line %d, %w", line, err)
		}
		if !ok {
			res.Skipped++
			continue
		}
		res.Readings = append(res.Readings, r)
	}
	return finish(res, FormatCSV)
}

// csvCols holds the positions of a CSV file's mapped columns; -1 is absent.
type csvCols struct {
	names   []string
	time    int
	athlete int
	source  int
	signals [features.NumSignals]int
}

// csvColumns finds the mapped columns in the header.
func csvColumns(header []string, opt *TableOptions) (*csvCols, error) {
	index := make(map[string]int, len(header))
	names := make([]string, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		names[i] = h
		if _, dup := index[h]; !dup {
			index[h] = i
		}
	}
	find := func(name, role string) (int, error) {
		if name == "" {
			return -1, nil
		}
		i, ok := index[name]
		if !ok {
			return 0, malformed("csv header: no column %q (for %s); the columns are %q",
				name, role, names)
		}
		return i, nil
	}

	c := &csvCols{names: names}
	var err error
	if c.time, err = find(opt.TimeColumn, "the time"); err != nil {
		return nil, err
	}
	if c.athlete, err = find(opt.AthleteColumn, "the athlete"); err != nil {
		return nil, err
	}
	if c.source, err = find(opt.SourceColumn, "the source"); err != nil {
		return nil, err
	}
	for s := range features.NumSignals {
		if c.signals[s], err = find(opt.Columns[s], s.Name()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// reading builds the reading of one CSV row; ok is false for a row to skip. An
// error names the column at fault, to follow "line N, ".
func (c *csvCols) reading(rec []string, opt *TableOptions,
	source string) (r features.Reading, ok bool, err error) {
	cell := func(i int) string { return strings.TrimSpace(rec[i]) }
	colErr := func(i int, err error) error {
		return fmt.Errorf("column %d (%q): %w", i+1, c.names[i], err)
	}

	if cell(c.time) == "" {
		return r, false, nil
	}
	at, err := opt.parseTime(cell(c.time))
	if err != nil {
		return r, false, colErr(c.time, err)
	}
	athlete := opt.AthleteID
	if c.athlete >= 0 {
		if athlete = cell(c.athlete); athlete == "" {
			return r, false, colErr(c.athlete, errors.New("empty athlete id"))
		}
	}
	if c.source >= 0 && cell(c.source) != "" {
		source = cell(c.source)
	}

	r = features.NewReading(athlete, source, at)
	present := false
	for s, i := range c.signals {
		if i < 0 {
			continue
		}
		v, err := parseValue(cell(i))
		if err != nil {
			return r, false, colErr(i, err)
		}
		r.Values[s] = v
		present = present || !math.IsNaN(v)
	}
	return r, present, nil
}
