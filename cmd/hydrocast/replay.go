package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
	"github.com/hydrocast/hydrocast/features/wire"
	"github.com/hydrocast/hydrocast/inference"
)

type replayFlags struct {
	client    clientFlags
	athlete   string
	server    string
	speed     float64
	output    string
	ambientC  float64
	humidity  float64
	bodyMass  float64
	batchSize int
}

func newReplayCommand(g *globals) *cobra.Command {
	f := &replayFlags{}
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "Stream a workout file through the feature store and print one row per minute",
		Long: `Replay reads a FIT file, a TCX file or an Empatica E4 export folder, streams its
readings into the feature store minute by minute and prints the assessment at the end of
each minute of activity: heart rate, sweat rate, core temperature now and projected 30
minutes ahead, anomaly score, fluid to drink in the next 15 minutes and alerts.

Without --server everything runs in this process, with the registry's production models.
With --server the readings go through the server's gRPC ingest API and the assessments
come from its Assess RPC.

Workout files rarely carry the weather: give it with --ambient-temp-c and --humidity-pct.`,
		Example: `  hydrocast replay run.fit --athlete a-17
  hydrocast replay ride.tcx --athlete a-17 --ambient-temp-c 31 --humidity-pct 60
  hydrocast replay e4-export/ --athlete a-17 --server 127.0.0.1:8470 --output jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd.Context(), g, f, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.athlete, "athlete", "", "athlete id the readings belong to (required)")
	f.client.register(fl)
	fl.StringVar(&f.server, "server", "", "address of a running hydrocast server; "+
		"empty runs in process")
	fl.Float64Var(&f.speed, "speed", 0, "replay speed as a multiple of real time; "+
		"0 replays as fast as possible")
	fl.StringVar(&f.output, "output", "table", "output format: table or jsonl")
	fl.Float64Var(&f.ambientC, "ambient-temp-c", math.NaN(),
		"air temperature in °C to add where the file has none")
	fl.Float64Var(&f.humidity, "humidity-pct", math.NaN(),
		"relative humidity in % to add where the file has none")
	fl.Float64Var(&f.bodyMass, "body-mass-kg", math.NaN(),
		"the athlete's body mass at the start, in kg (a weigh-in)")
	fl.IntVar(&f.batchSize, "batch", 500, "readings per ingest message")
	_ = cmd.MarkFlagRequired("athlete")
	return cmd
}

// assessClient is what replay needs of a server, remote or in process.
type assessClient interface {
	ingest(ctx context.Context, rs []*hydrocastv1.Reading) (*hydrocastv1.IngestResponse,
		error)
	assess(ctx context.Context, req *hydrocastv1.AssessRequest) (*hydrocastv1.Assessment,
		error)
	close() error
}

func runReplay(ctx context.Context, g *globals, f *replayFlags, path string,
	stdout, stderr io.Writer) error {
	if f.output != "table" && f.output != "jsonl" {
		return fmt.Errorf("--output %q: want table or jsonl", f.output)
	}
	if f.speed < 0 || math.IsNaN(f.speed) {
		return fmt.Errorf("--speed %v: want 0 or more", f.speed)
	}
	if f.batchSize < 1 {
		return fmt.Errorf("--batch %d: want 1 or more", f.batchSize)
	}
	for _, c := range []struct {
		flag string
		v    float64
		s    features.Signal
	}{{"--ambient-temp-c", f.ambientC, features.AmbientTemp},
		{"--humidity-pct", f.humidity, features.Humidity},
		{"--body-mass-kg", f.bodyMass, features.BodyMass}} {
		if lo, hi := c.s.Range(); !math.IsNaN(c.v) && (c.v < lo || c.v > hi) {
			return fmt.Errorf("%s %v: want %v to %v", c.flag, c.v, lo, hi)
		}
	}
	res, err := importer.ImportFile(path, importer.Options{AthleteID: f.athlete})
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "warning: %s: %s\n", path, w)
	}
	if len(res.Readings) == 0 {
		return fmt.Errorf("%s: no readings to replay", path)
	}
	addWeather(res.Readings, f)

	client, err := dialReplay(ctx, g, f)
	if err != nil {
		return err
	}
	defer client.close()

	out := newTimeline(stdout, f.output)
	out.stderr = stderr
	total, err := replayMinutes(ctx, client, res.Readings, f, out)
	out.flush()
	answered := total.Accepted + total.Duplicates + total.Late + total.Rejected
	if err != nil && answered == 0 {
		return fmt.Errorf("replay %s: %w", path, err)
	}
	fmt.Fprintf(stderr, "replayed %d readings: %d accepted, %d duplicates, %d late, "+
		"%d rejected\n", len(res.Readings), total.Accepted, total.Duplicates, total.Late,
		total.Rejected)
	for _, r := range total.Rejections {
		fmt.Fprintf(stderr, "rejected reading %d: %s: %s\n", r.Index, r.Field, r.Reason)
	}
	return err
}

// addWeather fills the flags' weather into readings that lack it and records the
// starting body mass on the first reading.
func addWeather(rs []features.Reading, f *replayFlags) {
	for i := range rs {
		r := &rs[i]
		if !math.IsNaN(f.ambientC) && !r.Has(features.AmbientTemp) {
			r.Set(features.AmbientTemp, f.ambientC)
		}
		if !math.IsNaN(f.humidity) && !r.Has(features.Humidity) {
			r.Set(features.Humidity, f.humidity)
		}
	}
	if !math.IsNaN(f.bodyMass) {
		rs[0].Set(features.BodyMass, f.bodyMass)
	}
}

// replayMinutes sends the readings one minute of event time at a time and prints the
// assessment at the end of each minute that had readings.
func replayMinutes(ctx context.Context, c assessClient, rs []features.Reading,
	f *replayFlags, out *timeline) (*hydrocastv1.IngestResponse, error) {
	total := &hydrocastv1.IngestResponse{}
	warned := false
	start := time.Now()
	first := rs[0].Time.Truncate(time.Minute)
	for i := 0; i < len(rs); {
		minuteEnd := rs[i].Time.Truncate(time.Minute).Add(time.Minute)
		j := i
		for j < len(rs) && rs[j].Time.Before(minuteEnd) {
			j++
		}
		before := total.Duplicates + total.Late
		if err := ingestChunk(ctx, c, rs[i:j], f.batchSize, total); err != nil {
			return total, err
		}
		if stale := total.Duplicates + total.Late - before; stale > 0 && !warned {
			fmt.Fprintf(out.stderr, "warning: the feature store already holds readings of "+
				"athlete %s at or after %s: %d of this minute's readings were duplicates or "+
				"too late to apply, so the timeline shows what the store holds; replay under "+
				"a new --athlete id to see this file alone\n", f.athlete,
				rs[i].Time.Format(time.RFC3339), stale)
			warned = true
		}
		i = j

		if f.speed > 0 {
			due := start.Add(time.Duration(float64(minuteEnd.Sub(first)) / f.speed))
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
		asOf := minuteEnd.Add(-time.Millisecond)
		a, err := c.assess(ctx, &hydrocastv1.AssessRequest{
			AthleteId: f.athlete, AsOf: timestamppb.New(asOf)})
		if err != nil {
			return total, fmt.Errorf("assess at %s: %w", asOf.Format(time.RFC3339), err)
		}
		out.row(a)
	}
	return total, nil
}

func ingestChunk(ctx context.Context, c assessClient, rs []features.Reading, batch int,
	total *hydrocastv1.IngestResponse) error {
	msgs := make([]*hydrocastv1.Reading, len(rs))
	for k := range rs {
		msgs[k] = wire.ToProto(&rs[k])
	}
	resp, err := c.ingest(ctx, msgs)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	total.Accepted += resp.Accepted
	total.Duplicates += resp.Duplicates
	total.Late += resp.Late
	total.Rejected += resp.Rejected
	for _, r := range resp.Rejections {
		if len(total.Rejections) < 10 {
			total.Rejections = append(total.Rejections, r)
		}
	}
	return nil
}

// remoteClient talks to a hydrocast server over gRPC.
type remoteClient struct {
	conn  *grpc.ClientConn
	api   hydrocastv1.HydrocastServiceClient
	batch int
}

func (c *remoteClient) ingest(ctx context.Context,
	rs []*hydrocastv1.Reading) (*hydrocastv1.IngestResponse, error) {
	stream, err := c.api.Ingest(ctx)
	if err != nil {
		return nil, err
	}
	for len(rs) > 0 {
		n := min(len(rs), c.batch)
		if err := stream.Send(&hydrocastv1.IngestRequest{Readings: rs[:n]}); err != nil {
			if errors.Is(err, io.EOF) {
				// The server ended the stream (refused the caller, say): its status,
				// which the next receive returns, says why.
				_, err = stream.CloseAndRecv()
			}
			return nil, err
		}
		rs = rs[n:]
	}
	return stream.CloseAndRecv()
}

func (c *remoteClient) assess(ctx context.Context,
	req *hydrocastv1.AssessRequest) (*hydrocastv1.Assessment, error) {
	return c.api.Assess(ctx, req)
}

func (c *remoteClient) close() error { return c.conn.Close() }

// localClient runs a server in this process.
type localClient struct {
	srv     *inference.Server
	cleanup func() error
}

func (c *localClient) ingest(ctx context.Context,
	rs []*hydrocastv1.Reading) (*hydrocastv1.IngestResponse, error) {
	return c.srv.IngestReadings(ctx, rs)
}

func (c *localClient) assess(ctx context.Context,
	req *hydrocastv1.AssessRequest) (*hydrocastv1.Assessment, error) {
	return c.srv.Assess(ctx, req)
}

func (c *localClient) close() error { return c.cleanup() }

func dialReplay(ctx context.Context, g *globals, f *replayFlags) (assessClient, error) {
	if f.server == "" {
		srv, cleanup, err := newLocalServer(ctx, g)
		if err != nil {
			return nil, err
		}
		return &localClient{srv: srv, cleanup: cleanup}, nil
	}
	conn, err := f.client.dial(f.server)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", f.server, err)
	}
	return &remoteClient{conn: conn, api: hydrocastv1.NewHydrocastServiceClient(conn),
		batch: max(1, f.batchSize)}, nil
}

// timeline prints assessments as an aligned table or as JSON lines.
type timeline struct {
	stderr io.Writer
	format string
	tw     *tabwriter.Writer
	enc    *json.Encoder
	rows   int
}

func newTimeline(w io.Writer, format string) *timeline {
	t := &timeline{format: format}
	if format == "jsonl" {
		t.enc = json.NewEncoder(w)
		return t
	}
	t.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(t.tw, "time\tHR bpm\tsweat L/h\tcore °C\tcore+30m °C\tanomaly\t"+
		"drink ml/15min\t alerts")
	return t
}

// timelineRow is the JSON shape of one replayed minute.
type timelineRow struct {
	Time            string            `json:"time"`
	AthleteID       string            `json:"athlete_id"`
	HeartRateBPM    *float64          `json:"heart_rate_bpm"`
	SweatRate       float64           `json:"sweat_rate_l_per_h"`
	SweatRateLower  float64           `json:"sweat_rate_lower_l_per_h"`
	SweatRateUpper  float64           `json:"sweat_rate_upper_l_per_h"`
	CoreTemp        float64           `json:"core_temp_c"`
	CoreTemp15m     float64           `json:"core_temp_15m_c"`
	CoreTemp30m     float64           `json:"core_temp_30m_c"`
	CoreTemp60m     float64           `json:"core_temp_60m_c"`
	AnomalyScore    float64           `json:"anomaly_score"`
	FluidMLPer15Min float64           `json:"fluid_ml_per_15min"`
	Alerts          []string          `json:"alerts"`
	ModelVersions   map[string]string `json:"model_versions"`
	WBGT            *float64          `json:"wbgt_c,omitempty"`
	StrainIndex     *float64          `json:"physiological_strain_index,omitempty"`
	FreshestAgeS    float64           `json:"freshest_reading_age_s"`
	SchemaVersion   uint32            `json:"feature_schema_version"`
}

func (t *timeline) row(a *hydrocastv1.Assessment) {
	t.rows++
	if t.enc != nil {
		alerts := a.Alerts
		if alerts == nil {
			alerts = []string{}
		}
		_ = t.enc.Encode(timelineRow{
			Time: a.Time.AsTime().Format(time.RFC3339), AthleteID: a.AthleteId,
			HeartRateBPM: roundPtr(a.HeartRateBpm, 1), SweatRate: round(a.SweatRateLPerH, 3),
			SweatRateLower: round(a.SweatRateLowerLPerH, 3),
			SweatRateUpper: round(a.SweatRateUpperLPerH, 3),
			CoreTemp:       round(a.CoreTempC, 3), CoreTemp15m: round(a.CoreTemp_15MC, 3),
			CoreTemp30m: round(a.CoreTemp_30MC, 3), CoreTemp60m: round(a.CoreTemp_60MC, 3),
			AnomalyScore: round(a.AnomalyScore, 4), FluidMLPer15Min: round(a.FluidMlPer_15Min, 0),
			Alerts: alerts, ModelVersions: a.ModelVersions, WBGT: a.WbgtC,
			StrainIndex: a.PhysiologicalStrainIndex, FreshestAgeS: a.FreshestReadingAgeS,
			SchemaVersion: a.FeatureSchemaVersion,
		})
		return
	}
	hr := "-"
	if a.HeartRateBpm != nil {
		hr = fmt.Sprintf("%.0f", *a.HeartRateBpm)
	}
	// The table shows the most severe alert; --output jsonl carries them all.
	alert := ""
	if n := len(a.Alerts); n > 0 {
		alert = a.Alerts[0]
		if n > 1 {
			alert += fmt.Sprintf(" (+%d more)", n-1)
		}
	}
	fmt.Fprintf(t.tw, "%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t %s\n",
		a.Time.AsTime().Format("15:04"), hr, a.SweatRateLPerH, a.CoreTempC, a.CoreTemp_30MC,
		a.AnomalyScore, a.FluidMlPer_15Min, alert)
}

func (t *timeline) flush() {
	if t.tw != nil {
		t.tw.Flush()
	}
}

func roundPtr(x *float64, digits int) *float64 {
	if x == nil {
		return nil
	}
	r := round(*x, digits)
	return &r
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
