// Command hydrocast-beam runs hydrocast's feature pipeline on Apache Beam: readings
// from a Pub/Sub subscription, per-athlete windows folded by the same code the
// online stores run, feature vectors to Redis and readings to BigQuery. It is a
// binary of its own so that the Beam SDK stays out of `hydrocast`.
//
// Beam's own flags choose the runner and its options; on Dataflow:
//
//	hydrocast-beam --runner dataflow --project P --region us-central1 \
//	    --staging_location gs://B/staging --temp_location gs://B/tmp \
//	    --subscription projects/P/subscriptions/readings-beam \
//	    --redis-addr 10.0.0.3:6379 --bigquery-table P:hydrocast.readings
//
// docs/scaling.md describes the options and when to take this path.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/bigqueryio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/pubsubio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	hcbeam "github.com/hydrocast/hydrocast/pipeline/beam"
)

// options are the pipeline's own flags; Beam registers its flags (runner, project,
// region, staging and temp locations, workers) on the same flag set.
type options struct {
	subscription   string
	timestampAttr  string
	redisAddr      string
	redisPrefix    string
	bigqueryTable  string
	rowWindow      time.Duration
	vectorInterval time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.subscription, "subscription", "", "Pub/Sub subscription of the "+
		"readings, projects/P/subscriptions/S (required)")
	flag.StringVar(&o.timestampAttr, "timestamp-attribute", "event_time", "message "+
		"attribute carrying the reading's event time (RFC 3339 or Unix ms), which drives "+
		"the watermark")
	flag.StringVar(&o.redisAddr, "redis-addr", "", "Redis address for the feature "+
		"vectors, host:port (required)")
	flag.StringVar(&o.redisPrefix, "redis-prefix", hcbeam.DefaultVectorPrefix,
		"prefix of the vector keys")
	flag.StringVar(&o.bigqueryTable, "bigquery-table", "", "table for the readings, "+
		"project:dataset.table (required)")
	flag.DurationVar(&o.rowWindow, "bigquery-window", time.Minute, "how long readings "+
		"gather before a BigQuery insert")
	flag.DurationVar(&o.vectorInterval, "vector-interval", time.Minute, "spacing of "+
		"the instants a vector is computed at")
	flag.Parse()
	beam.Init()

	p, err := build(o, projectFlag())
	if err != nil {
		fmt.Fprintln(os.Stderr, "hydrocast-beam:", err)
		os.Exit(2)
	}
	if err := beamx.Run(context.Background(), p); err != nil {
		fmt.Fprintln(os.Stderr, "hydrocast-beam:", err)
		os.Exit(1)
	}
}

// projectFlag returns Beam's --project flag, which the Dataflow runner registers.
func projectFlag() string {
	if f := flag.Lookup("project"); f != nil {
		return f.Value.String()
	}
	return ""
}

// build constructs the production pipeline; it does not run it.
func build(o options, project string) (*beam.Pipeline, error) {
	var missing []error
	for flagName, v := range map[string]string{"--subscription": o.subscription,
		"--redis-addr": o.redisAddr, "--bigquery-table": o.bigqueryTable,
		"--project": project} {
		if v == "" {
			missing = append(missing, fmt.Errorf("%s is required", flagName))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	if _, err := bigqueryio.NewQualifiedTableName(o.bigqueryTable); err != nil {
		return nil, fmt.Errorf("--bigquery-table %q: want project:dataset.table",
			o.bigqueryTable)
	}
	if o.rowWindow <= 0 || o.vectorInterval <= 0 {
		return nil, fmt.Errorf("--bigquery-window and --vector-interval must be positive")
	}

	p, s := beam.NewPipelineWithRoot()
	msgs := pubsubio.Read(s, project, pubsubio.ReadOptions{Subscription: o.subscription,
		TimestampAttribute: o.timestampAttr})
	vectors, rows := hcbeam.Features(s, hcbeam.ParseReadings(s, msgs),
		hcbeam.Options{VectorInterval: o.vectorInterval})
	hcbeam.WriteVectorsToRedis(s, hcbeam.RedisVectorOptions{Addr: o.redisAddr,
		Prefix: o.redisPrefix}, vectors)

	// bigqueryio gathers a window's rows under one key before inserting them: without
	// fixed windows an unbounded stream would never be written.
	// TODO: one key means one worker inserts every row of a window; past a few
	// thousand readings a second switch to the Storage Write API (cross-language
	// bigqueryio), which Dataflow runs without that bottleneck.
	windowed := beam.WindowInto(s, windowFn(o.rowWindow), rows)
	bq := beam.ParDo(s, toBigQuery, windowed)
	bigqueryio.Write(s, project, o.bigqueryTable, bq)
	return p, nil
}
