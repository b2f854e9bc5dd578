package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	hcbeam "github.com/hydrocast/hydrocast/pipeline/beam"
)

func validOptions() options {
	return options{subscription: "projects/p/subscriptions/readings", timestampAttr: "event_time",
		redisAddr: "127.0.0.1:6379", redisPrefix: "x:", bigqueryTable: "p:hydrocast.readings",
		rowWindow: time.Minute, vectorInterval: time.Minute}
}

// TestBuildConstructsProductionGraph builds the Pub/Sub, Redis and BigQuery pipeline
// without running it: Beam checks every transform's types and the BigQuery schema
// inferred from the row type.
func TestBuildConstructsProductionGraph(t *testing.T) {
	p, err := build(validOptions(), "p")
	if err != nil {
		t.Fatal(err)
	}
	edges, _, err := p.Build()
	if err != nil {
		t.Fatalf("pipeline graph: %v", err)
	}
	var names []string
	for _, e := range edges {
		names = append(names, e.Name())
	}
	// The Pub/Sub read is an External transform, which Dataflow implements.
	all := strings.Join(names, " ")
	for _, want := range []string{"External", "foldFn", "redisVectorFn", "bigqueryio.writeFn"} {
		if !strings.Contains(all, want) {
			t.Errorf("graph lacks %s: %s", want, all)
		}
	}
}

func TestBuildRefusesMissingFlags(t *testing.T) {
	o := validOptions()
	o.subscription, o.bigqueryTable = "", ""
	_, err := build(o, "")
	for _, flag := range []string{"--subscription", "--bigquery-table", "--project"} {
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("error %v does not name %s", err, flag)
		}
	}
	o = validOptions()
	o.bigqueryTable = "no-dataset"
	if _, err := build(o, "p"); err == nil || !strings.Contains(err.Error(), "--bigquery-table") {
		t.Errorf("bad table: %v", err)
	}
}

func TestToBigQuery(t *testing.T) {
	r := features.NewReading("a-1", "watch", time.Date(2025, 7, 14, 9, 0, 0, 5000, time.UTC))
	r.Set(features.HeartRate, 141)
	row := toBigQuery(hcbeam.ReadingRow{AthleteID: "a-1", Source: "watch",
		EventTimeUnixMicros: r.Time.UnixMicro(), Values: r.Values[:]})
	if !row.EventTime.Equal(r.Time) || !row.HeartRate.Valid || row.HeartRate.Float64 != 141 ||
		row.SkinTemp.Valid {
		t.Errorf("row %+v", row)
	}
	back, err := decodeBigQueryReading(must(encodeBigQueryReading(row)))
	if err != nil || !back.EventTime.Equal(row.EventTime) || back.HeartRate != row.HeartRate ||
		back.SkinTemp.Valid {
		t.Errorf("coder round trip: %+v, %v", back, err)
	}
	if math.IsNaN(row.HeartRate.Float64) {
		t.Error("NaN reached BigQuery")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
