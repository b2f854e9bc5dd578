// Package capacity turns measured benchmark figures into a deployment plan: cores and
// replicas for the inference server and the ingest worker, Redis memory, storage per
// month and the cost per athlete-month at cloud list prices. It is arithmetic only;
// `hydrocast capacity --bench bench.json` reads the figures and prints the plan, and
// docs/capacity.md explains the model with its numbers.
package capacity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrInvalid reports an input the model cannot use: a missing, negative or
// non-finite figure, or a bench file that does not follow the schema.
var ErrInvalid = errors.New("invalid capacity input")

// Bench holds the measured figures the model rests on, as read from bench.json. Each
// per-core figure is what one fully busy core sustains; the model plans cores at
// Policy.TargetUtilization of it.
type Bench struct {
	// MeasuredOn says where and when the figures were taken (commit, machine, load),
	// so that a plan can be traced to its measurements. Free text.
	MeasuredOn string `json:"measured_on"`

	// IngestReadingsPerCoreSecond is how many readings one core of the ingest worker
	// applies to the online store per second, Redis round trips included.
	IngestReadingsPerCoreSecond float64 `json:"ingest_readings_per_core_second"`

	// AssessPerCoreSecond is how many Assess calls one core of the server answers per
	// second: feature lookup and the three models.
	AssessPerCoreSecond float64 `json:"assess_per_core_second"`

	// AssessP99Seconds is the 99th percentile latency of Assess at the server, in
	// seconds. It does not size anything (more replicas do not make one call faster);
	// the plan warns when it exceeds Policy.P99Budget.
	AssessP99Seconds float64 `json:"assess_p99_seconds"`

	// RedisBytesPerAthlete is the online-store memory one exercising athlete holds:
	// the 5, 15 and 60 minute windows and the filter state.
	RedisBytesPerAthlete float64 `json:"redis_bytes_per_athlete"`

	// ParquetBytesPerReading is the compressed size of one reading in the offline
	// store's Parquet files.
	ParquetBytesPerReading float64 `json:"parquet_bytes_per_reading"`

	// BigQueryBytesPerReading is the logical (uncompressed) size BigQuery bills for
	// one reading's row.
	BigQueryBytesPerReading float64 `json:"bigquery_bytes_per_reading"`

	// PubSubBytesPerReading is the Pub/Sub volume billed per reading, publish and
	// delivery together. Pub/Sub bills at least 1000 bytes per request, so a reading
	// published on its own costs 1000 bytes however small it is.
	PubSubBytesPerReading float64 `json:"pubsub_bytes_per_reading"`

	// TrainingCoreSecondsPerMillionRows is the CPU time one training run spends per
	// million training rows, all model families together.
	TrainingCoreSecondsPerMillionRows float64 `json:"training_core_seconds_per_million_rows"`
}

// ReadBench decodes bench.json. Unknown fields and trailing data are refused, so that
// a misspelt figure fails rather than silently counting as zero.
func ReadBench(r io.Reader) (Bench, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var b Bench
	if err := dec.Decode(&b); err != nil {
		return Bench{}, fmt.Errorf("decode bench figures: %w: %w", ErrInvalid, err)
	}
	if dec.More() {
		return Bench{}, fmt.Errorf("decode bench figures: %w: data after the object",
			ErrInvalid)
	}
	if err := b.Validate(); err != nil {
		return Bench{}, err
	}
	return b, nil
}

// Validate checks that every figure is a positive, finite number.
func (b Bench) Validate() error {
	fields := []bounded{
		{"ingest_readings_per_core_second", b.IngestReadingsPerCoreSecond, 1e-3, 1e10},
		{"assess_per_core_second", b.AssessPerCoreSecond, 1e-3, 1e9},
		{"assess_p99_seconds", b.AssessP99Seconds, 1e-7, 600},
		{"redis_bytes_per_athlete", b.RedisBytesPerAthlete, 1, 1e12},
		{"parquet_bytes_per_reading", b.ParquetBytesPerReading, 0.01, 1e7},
		{"bigquery_bytes_per_reading", b.BigQueryBytesPerReading, 0.01, 1e7},
		{"pubsub_bytes_per_reading", b.PubSubBytesPerReading, 0.01, 1e7},
		{"training_core_seconds_per_million_rows", b.TrainingCoreSecondsPerMillionRows,
			1e-3, 1e9},
	}
	plain := make([]field, len(fields))
	for i, f := range fields {
		plain[i] = field{f.name, f.value}
	}
	if err := positive("bench", plain); err != nil {
		return err
	}
	// Beyond these bounds a figure is a typo or a broken measurement, and the plan
	// built on it would be nonsense (a 300-digit core count, an infinite cost).
	for _, f := range fields {
		if f.value < f.lo || f.value > f.hi {
			return fmt.Errorf("bench %s = %g: %w: outside the plausible range %g to %g",
				f.name, f.value, ErrInvalid, f.lo, f.hi)
		}
	}
	return nil
}

// field is a named number for validation messages.
type field struct {
	name  string
	value float64
}

// bounded is a field with the range a measurement of it can plausibly take.
type bounded struct {
	name   string
	value  float64
	lo, hi float64
}

// positive returns an error naming the first field that is not a positive, finite
// number.
func positive(what string, fields []field) error {
	for _, f := range fields {
		if !(f.value > 0) || math.IsInf(f.value, 0) {
			return fmt.Errorf("%s %s = %v: %w: must be positive", what, f.name, f.value,
				ErrInvalid)
		}
	}
	return nil
}
