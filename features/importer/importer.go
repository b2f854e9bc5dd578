// Package importer turns files exported by wearables into readings: FIT activity files,
// Garmin TCX files and Empatica E4 export folders, and CSV or Parquet tables whose
// columns a ColumnMap names. It also writes FIT activity files, so that simulated
// sessions can travel the same path as real ones.
//
// Every importer returns the readings sorted by event time together with warnings about
// input it had to work around (a wrong checksum, a file cut short, samples it skipped).
// A value the device marked as invalid is always returned as missing, never as a number.
package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hydrocast/hydrocast/features"
)

// Format names a file format the importer reads.
type Format string

// The formats ImportFile and Detect know.
const (
	FormatFIT Format = "fit" // Garmin FIT, possibly several files chained
	FormatTCX Format = "tcx" // Garmin Training Center XML
	FormatE4  Format = "e4"  // Empatica E4 export folder (HR.csv, TEMP.csv, …)
)

var (
	// ErrUnknownFormat is returned by Detect and ImportFile for a path whose content
	// and name match none of the known formats.
	ErrUnknownFormat = errors.New("unknown file format")

	// ErrMalformed is wrapped by every error about input that breaks its format; the
	// error's text names the file, line or byte and field at fault.
	ErrMalformed = errors.New("malformed input")

	// ErrNoReadings is returned for well-formed input that holds no reading at all,
	// such as a FIT settings file or an E4 folder with empty files.
	ErrNoReadings = errors.New("no readings in input")
)

// Options says whose readings an input holds.
type Options struct {
	// AthleteID is copied into every reading. The importer does not check it; an
	// empty id fails features.Reading.Validate later.
	AthleteID string

	// Source is copied into every reading as the device id; zero means the format's
	// name ("fit", "tcx" or "e4").
	Source string
}

// Result is what an importer made of one input.
type Result struct {
	// Readings are sorted by event time; a signal the input does not carry is missing.
	Readings []features.Reading

	// Warnings describe input that was imported despite a fault, in plain words.
	Warnings []string

	// Skipped counts records of the input that carried no signal at all (for example
	// a TCX trackpoint with only a time) or no usable time, and so gave no reading.
	Skipped int

	// Format is the format that was read.
	Format Format
}

// ImportFile reads the FIT file, TCX file or E4 export folder at path, choosing the
// importer with Detect. Errors name the path.
func ImportFile(path string, opt Options) (Result, error) {
	format, err := Detect(path)
	if err != nil {
		return Result{}, err
	}
	if format == FormatE4 {
		return ReadE4(path, opt)
	}

	f, err := os.Open(path)
	if err != nil {
		return Result{}, fmt.Errorf("import %s: %w", path, err)
	}
	defer f.Close()

	var res Result
	switch format {
	case FormatFIT:
		res, err = DecodeFIT(f, opt)
	default:
		res, err = DecodeTCX(f, opt)
	}
	if err != nil {
		return Result{}, fmt.Errorf("import %s: %w", path, err)
	}
	return res, nil
}

// detectPeek is how much of a file Detect reads; a TCX root element sits after the
// XML declaration and perhaps a comment, well inside it.
const detectPeek = 4096

// Detect tells which format the file or folder at path holds. A folder is an E4 export
// when it holds HR.csv or TEMP.csv. A file is recognised by its content first (the FIT
// header's ".FIT" signature, a TrainingCenterDatabase root element) and by its
// extension otherwise, so that a damaged file still reaches the importer that can say
// what is wrong with it.
func Detect(path string) (Format, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("detect format of %s: %w", path, err)
	}
	if info.IsDir() {
		return detectDir(path)
	}

	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("detect format of %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, detectPeek)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("detect format of %s: %w", path, err)
	}
	head = head[:n]

	switch {
	case isFITHeader(head):
		return FormatFIT, nil
	case bytes.Contains(head, []byte("<TrainingCenterDatabase")):
		return FormatTCX, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".fit":
		return FormatFIT, nil
	case ".tcx":
		return FormatTCX, nil
	}
	return "", fmt.Errorf("detect format of %s: %w", path, ErrUnknownFormat)
}

func detectDir(dir string) (Format, error) {
	for _, name := range []string{e4HRFile, e4TempFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return FormatE4, nil
		}
	}
	return "", fmt.Errorf("detect format of folder %s (no %s or %s): %w",
		dir, e4HRFile, e4TempFile, ErrUnknownFormat)
}

// isFITHeader reports whether b starts with a FIT file header: its size byte (12 or
// 14) and the ".FIT" signature at bytes 8 to 11.
func isFITHeader(b []byte) bool {
	return len(b) >= 12 && (b[0] == 12 || b[0] == 14) && string(b[8:12]) == ".FIT"
}

// malformedError marks an error as a fault of the input, so that errors.Is reports
// ErrMalformed while the text stays the specific one.
type malformedError struct{ err error }

func (e malformedError) Error() string   { return e.err.Error() }
func (e malformedError) Unwrap() []error { return []error{e.err, ErrMalformed} }

func malformed(format string, a ...any) error {
	return malformedError{fmt.Errorf(format, a...)}
}

// finish sorts the readings by time and fills in the result's bookkeeping.
func finish(res Result, format Format) (Result, error) {
	res.Format = format
	if len(res.Readings) == 0 {
		return Result{}, fmt.Errorf("%s input: %w", format, ErrNoReadings)
	}
	slices.SortStableFunc(res.Readings, func(a, b features.Reading) int {
		return a.Time.Compare(b.Time)
	})
	return res, nil
}

// sourceOr returns opt.Source, or the format's name when it is empty.
func (opt Options) sourceOr(format Format) string {
	if opt.Source != "" {
		return opt.Source
	}
	return string(format)
}
