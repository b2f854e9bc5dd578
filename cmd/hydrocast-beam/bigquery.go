package main

import (
	"encoding/json"
	"math"
	"reflect"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/hydrocast/hydrocast/features"
	hcbeam "github.com/hydrocast/hydrocast/pipeline/beam"
)

// bigQueryReading is a reading's row in BigQuery. Create the table partitioned by
// DATE(event_time) and clustered by athlete_id (docs/scaling.md).
type bigQueryReading struct {
	AthleteID   string               `bigquery:"athlete_id"`
	Source      string               `bigquery:"source"`
	EventTime   time.Time            `bigquery:"event_time"`
	HeartRate   bigquery.NullFloat64 `bigquery:"heart_rate_bpm"`
	SkinTemp    bigquery.NullFloat64 `bigquery:"skin_temp_c"`
	CoreTemp    bigquery.NullFloat64 `bigquery:"core_temp_c"`
	AmbientTemp bigquery.NullFloat64 `bigquery:"ambient_temp_c"`
	Humidity    bigquery.NullFloat64 `bigquery:"humidity_pct"`
	Speed       bigquery.NullFloat64 `bigquery:"speed_m_per_s"`
	Power       bigquery.NullFloat64 `bigquery:"power_w"`
	Cadence     bigquery.NullFloat64 `bigquery:"cadence_per_min"`
	FluidIntake bigquery.NullFloat64 `bigquery:"fluid_intake_ml"`
	BodyMass    bigquery.NullFloat64 `bigquery:"body_mass_kg"`
}

// toBigQuery converts a reading row into its BigQuery row.
func toBigQuery(r hcbeam.ReadingRow) bigQueryReading {
	get := func(s features.Signal) bigquery.NullFloat64 {
		if int(s) >= len(r.Values) || math.IsNaN(r.Values[s]) {
			return bigquery.NullFloat64{}
		}
		return bigquery.NullFloat64{Float64: r.Values[s], Valid: true}
	}
	return bigQueryReading{
		AthleteID: r.AthleteID, Source: r.Source,
		EventTime: time.UnixMicro(r.EventTimeUnixMicros).UTC(),
		HeartRate: get(features.HeartRate), SkinTemp: get(features.SkinTemp),
		CoreTemp: get(features.CoreTemp), AmbientTemp: get(features.AmbientTemp),
		Humidity: get(features.Humidity), Speed: get(features.Speed),
		Power: get(features.Power), Cadence: get(features.Cadence),
		FluidIntake: get(features.FluidIntake), BodyMass: get(features.BodyMass),
	}
}

func windowFn(d time.Duration) *window.Fn { return window.NewFixedWindows(d) }

// The row type holds a time.Time, which Beam's schema coder does not take: rows
// travel between steps as JSON.
func encodeBigQueryReading(r bigQueryReading) ([]byte, error) { return json.Marshal(r) }

func decodeBigQueryReading(b []byte) (bigQueryReading, error) {
	var r bigQueryReading
	err := json.Unmarshal(b, &r)
	return r, err
}

func init() {
	t := reflect.TypeOf((*bigQueryReading)(nil)).Elem()
	beam.RegisterType(t)
	beam.RegisterCoder(t, encodeBigQueryReading, decodeBigQueryReading)
	register.Function1x1(toBigQuery)
}
