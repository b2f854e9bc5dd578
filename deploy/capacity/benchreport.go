package capacity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// Baseline returns the figures the model uses for what `make bench` does not measure
// yet, with where each was taken; docs/capacity.md gives the measurements behind them.
// They are the figures of testdata/bench.json.
func Baseline() Bench {
	return Bench{
		MeasuredOn: "baseline of 2026-12-03 (docs/capacity.md), 2-core AMD EPYC " +
			"shared with other builds",
		IngestReadingsPerCoreSecond:       2200,
		AssessPerCoreSecond:               500,
		AssessP99Seconds:                  0.107,
		RedisBytesPerAthlete:              6552,
		ParquetBytesPerReading:            22,
		BigQueryBytesPerReading:           72,
		PubSubBytesPerReading:             1150,
		TrainingCoreSecondsPerMillionRows: 2800,
	}
}

// Source says where one figure of a Bench came from.
type Source struct {
	// Field is the figure's name in the flat schema, as "assess_p99_seconds".
	Field string `json:"field"`

	// From is "bench" when the file named it, or "baseline" when Baseline supplied it.
	From string `json:"from"`

	// Figure is the row of a `make bench` report the value was read from; empty when
	// it did not come from such a report.
	Figure string `json:"figure,omitempty"`
}

// The values of Source.From.
const (
	FromBench    = "bench"
	FromBaseline = "baseline"
)

// reportFigure maps a row of `make bench`'s report (docs/bench.yaml names them) to a
// figure of the model: the unit the row must carry and what to divide by for the model's
// unit.
type reportFigure struct {
	row     string
	unit    string
	field   string
	divisor float64
	set     func(*Bench, float64)
}

// reportFigures are the rows of a `make bench` report the model reads. The report
// does not measure Assess throughput, Redis-backed ingest, storage bytes or training
// yet; those keep their Baseline values.
var reportFigures = []reportFigure{
	{"Assess p99, 1000 req/s", "ns", "assess_p99_seconds", 1e9,
		func(b *Bench, v float64) { b.AssessP99Seconds = v }},
	{"memory per active athlete (1 h)", "B", "redis_bytes_per_athlete", 1,
		func(b *Bench, v float64) { b.RedisBytesPerAthlete = v }},
}

// report is the part of `make bench`'s bench.json (scripts/benchtable's Report) the
// model reads. Unknown fields are ignored: the report belongs to another tool and
// grows.
type report struct {
	Date      string      `json:"date"`
	GoVersion string      `json:"go_version"`
	CPU       string      `json:"cpu"`
	Cores     int         `json:"cores"`
	Load      string      `json:"load_average"`
	Figures   []reportRow `json:"figures"`
}

type reportRow struct {
	Figure   string   `json:"figure"`
	Unit     string   `json:"unit"`
	Measured *float64 `json:"measured"`
	Verdict  string   `json:"verdict"`
}

// ReadBenchFile reads either form of bench figures: the flat schema of Bench (as
// testdata/bench.json), every figure required; or the report `make bench` writes to
// var/bench/bench.json, whose figures replace those of base they measure while the
// rest keep base's values. It returns the figures and the source of each.
func ReadBenchFile(r io.Reader, base Bench) (Bench, []Source, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Bench{}, nil, fmt.Errorf("read bench figures: %w", err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return Bench{}, nil, fmt.Errorf("decode bench figures: %w: %w", ErrInvalid, err)
	}
	if _, ok := probe["figures"]; !ok {
		b, err := ReadBench(bytes.NewReader(data))
		if err != nil {
			return Bench{}, nil, err
		}
		return b, flatSources(), nil
	}
	return fromReport(data, base)
}

// flatSources says that every figure came from the file.
func flatSources() []Source {
	fields := []string{"ingest_readings_per_core_second", "assess_per_core_second",
		"assess_p99_seconds", "redis_bytes_per_athlete", "parquet_bytes_per_reading",
		"bigquery_bytes_per_reading", "pubsub_bytes_per_reading",
		"training_core_seconds_per_million_rows"}
	out := make([]Source, len(fields))
	for i, f := range fields {
		out[i] = Source{Field: f, From: FromBench}
	}
	return out
}

// fromReport reads a `make bench` report over base.
func fromReport(data []byte, base Bench) (Bench, []Source, error) {
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		return Bench{}, nil, fmt.Errorf("decode bench report: %w: %w", ErrInvalid, err)
	}
	b := base
	b.MeasuredOn = fmt.Sprintf("make bench %s, %s, %d cores %s, load %s; the rest: %s",
		rep.Date, rep.GoVersion, rep.Cores, rep.CPU, rep.Load, base.MeasuredOn)

	taken := make(map[string]reportRow)
	for _, row := range rep.Figures {
		if _, dup := taken[row.Figure]; dup {
			return Bench{}, nil, fmt.Errorf("bench report: figure %q: %w: appears twice",
				row.Figure, ErrInvalid)
		}
		taken[row.Figure] = row
	}

	var sources []Source
	for _, f := range reportFigures {
		row, ok := taken[f.row]
		if !ok || row.Measured == nil {
			sources = append(sources, Source{Field: f.field, From: FromBaseline})
			continue
		}
		if row.Unit != f.unit {
			return Bench{}, nil, fmt.Errorf("bench report: figure %q: %w: unit %q, want %q",
				f.row, ErrInvalid, row.Unit, f.unit)
		}
		v := *row.Measured / f.divisor
		if !(v > 0) || math.IsInf(v, 0) {
			return Bench{}, nil, fmt.Errorf("bench report: figure %q = %v: %w: must be "+
				"positive", f.row, *row.Measured, ErrInvalid)
		}
		f.set(&b, v)
		sources = append(sources, Source{Field: f.field, From: FromBench, Figure: f.row})
	}
	for _, field := range []string{"ingest_readings_per_core_second",
		"assess_per_core_second", "parquet_bytes_per_reading",
		"bigquery_bytes_per_reading", "pubsub_bytes_per_reading",
		"training_core_seconds_per_million_rows"} {
		sources = append(sources, Source{Field: field, From: FromBaseline})
	}
	if err := b.Validate(); err != nil {
		return Bench{}, nil, err
	}
	return b, sources, nil
}
