package importer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// The files of an E4 export that the importer reads.
const (
	e4HRFile   = "HR.csv"
	e4TempFile = "TEMP.csv"
)

// Bounds on an E4 file's header. The rates the E4 records at are 1 to 64 Hz; the bounds
// are wide, and only keep sample times representable.
const (
	e4MaxStart = 1e11 // Unix seconds, about the year 5100
	e4MinRate  = 1e-3 // Hz
	e4MaxRate  = 1e4  // Hz

	// e4MaxSample bounds a sample's magnitude so that sums over a second stay finite;
	// no E4 signal comes near it.
	e4MaxSample = 1e6
)

// E4Files holds the CSV files of one Empatica E4 export; a nil reader is a file the
// export lacks.
type E4Files struct {
	HR   io.Reader // HR.csv: heart rate in bpm, 1 Hz
	Temp io.Reader // TEMP.csv: skin temperature in °C, 4 Hz
}

// ReadE4 reads the Empatica E4 export folder dir through DecodeE4. A folder that lacks
// one of HR.csv and TEMP.csv is imported from the other with a warning; one that lacks
// both is an error. Errors name the folder.
func ReadE4(dir string, opt Options) (Result, error) {
	var (
		files    E4Files
		warnings []string
	)
	for _, f := range []struct {
		name string
		dst  *io.Reader
	}{{e4HRFile, &files.HR}, {e4TempFile, &files.Temp}} {
		file, err := os.Open(filepath.Join(dir, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			warnings = append(warnings, "e4 folder has no "+f.name)
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("import %s: %w", dir, err)
		}
		defer file.Close()
		*f.dst = file
	}
	if files.HR == nil && files.Temp == nil {
		return Result{}, fmt.Errorf("import %s: %w: neither %s nor %s present",
			dir, ErrNoReadings, e4HRFile, e4TempFile)
	}

	res, err := DecodeE4(files, opt)
	if err != nil {
		return Result{}, fmt.Errorf("import %s: %w", dir, err)
	}
	res.Warnings = append(warnings, res.Warnings...)
	return res, nil
}

// DecodeE4 merges an E4 export's heart rate and skin temperature onto one time base:
// one reading per whole second of Unix time (UTC), each signal the mean of its samples
// within that second. A second that only one file covers gives a reading with the
// other signal missing. The E4 reports each heart rate as the mean of the 10 s before
// it, so HR.csv starts 10 s after TEMP.csv and its first seconds carry temperature only.
//
// Each file starts with the start time (Unix seconds) and the sample rate (Hz) on one
// line each, then one sample a line; only the first column of a line is read.
func DecodeE4(files E4Files, opt Options) (Result, error) {
	var hr, temp []e4Second
	if files.HR != nil {
		s, err := parseE4CSV(files.HR, e4HRFile)
		if err != nil {
			return Result{}, err
		}
		hr = s.perSecond()
	}
	if files.Temp != nil {
		s, err := parseE4CSV(files.Temp, e4TempFile)
		if err != nil {
			return Result{}, err
		}
		temp = s.perSecond()
	}

	res := Result{Readings: mergeE4(hr, temp, opt.AthleteID, opt.sourceOr(FormatE4))}
	return finish(res, FormatE4)
}

// e4Series is one E4 CSV file: regularly spaced samples from a start time.
type e4Series struct {
	start  float64 // Unix seconds
	rate   float64 // samples per second
	values []float64
}

// e4Second is the sum and count of a series' samples within one second.
type e4Second struct {
	unix int64
	sum  float64
	n    int
}

func (s e4Second) mean() float64 { return s.sum / float64(s.n) }

// parseE4CSV reads one E4 CSV file; name labels its errors.
func parseE4CSV(r io.Reader, name string) (e4Series, error) {
	var s e4Series
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line > 2 && text == "" {
			continue // a blank line, usually the last
		}
		first, _, _ := strings.Cut(text, ",")
		v, err := strconv.ParseFloat(strings.TrimSpace(first), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return e4Series{}, malformed("%s line %d: %q is not a finite number",
				name, line, first)
		}

		switch line {
		case 1:
			if v < 0 || v > e4MaxStart {
				return e4Series{}, malformed("%s line 1: start time %g is not a Unix time",
					name, v)
			}
			s.start = v
		case 2:
			if v < e4MinRate || v > e4MaxRate {
				return e4Series{}, malformed("%s line 2: sample rate %g Hz outside %g to %g",
					name, v, e4MinRate, e4MaxRate)
			}
			s.rate = v
		default:
			if math.Abs(v) > e4MaxSample {
				return e4Series{}, malformed("%s line %d: sample %g beyond ±%g",
					name, line, v, e4MaxSample)
			}
			s.values = append(s.values, v)
		}
	}
	if err := sc.Err(); err != nil {
		return e4Series{}, malformed("%s line %d: %w", name, line+1, err)
	}
	if line < 2 {
		return e4Series{}, malformed("%s: %d lines, want a start time and a sample rate first",
			name, line)
	}
	return s, nil
}

// perSecond groups the samples by the whole second of Unix time they fall in.
func (s e4Series) perSecond() []e4Second {
	var out []e4Second
	for i, v := range s.values {
		unix := int64(math.Floor(s.start + float64(i)/s.rate))
		if n := len(out); n > 0 && out[n-1].unix == unix {
			out[n-1].sum += v
			out[n-1].n++
			continue
		}
		out = append(out, e4Second{unix: unix, sum: v, n: 1})
	}
	return out
}

// mergeE4 joins two per-second series, both in time order, into readings.
func mergeE4(hr, temp []e4Second, athlete, source string) []features.Reading {
	out := make([]features.Reading, 0, max(len(hr), len(temp)))
	for len(hr) > 0 || len(temp) > 0 {
		unix := int64(math.MaxInt64)
		if len(hr) > 0 {
			unix = hr[0].unix
		}
		if len(temp) > 0 {
			unix = min(unix, temp[0].unix)
		}

		r := features.NewReading(athlete, source, time.Unix(unix, 0).UTC())
		if len(hr) > 0 && hr[0].unix == unix {
			r.Set(features.HeartRate, hr[0].mean())
			hr = hr[1:]
		}
		if len(temp) > 0 && temp[0].unix == unix {
			r.Set(features.SkinTemp, temp[0].mean())
			temp = temp[1:]
		}
		out = append(out, r)
	}
	return out
}
