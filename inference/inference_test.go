package inference_test

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/models/ort/orttest"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
)

var start = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

// linearModel is a family model y_j = Σ_i w[i]·x_i + b_j with one weight per input
// (the same for every output column) and per-column bias, easy to compute by hand.
type linearModel struct {
	weight float32   // applied to every input column
	bias   []float32 // per output
	impute []float32
}

func (m linearModel) eval(x []float32) []float64 {
	var sum float64
	for _, v := range x {
		sum += float64(m.weight) * float64(v)
	}
	out := make([]float64, len(m.bias))
	for j, b := range m.bias {
		out[j] = sum + float64(b)
	}
	return out
}

// publish registers m as the next version of fam and points production at it.
func publish(t testing.TB, reg *registry.Registry, fam models.Family, m linearModel) {
	t.Helper()
	k, outs := len(fam.Features), len(fam.Outputs)
	spec := onnxgraph.LinearSpec{Name: fam.Name, Mean: make([]float32, k),
		Scale: make([]float32, k), Weights: make([]float32, k*outs), Bias: m.bias}
	for i := range k {
		spec.Scale[i] = 1
		for j := range outs {
			spec.Weights[i*outs+j] = m.weight
		}
	}
	for _, o := range fam.Outputs {
		spec.Outputs = append(spec.Outputs, o.Name)
	}
	b, err := onnxgraph.StandardizedLinear(spec)
	if err != nil {
		t.Fatal(err)
	}
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	impute, _ := json.Marshal(m.impute)
	sig := registry.Signature{Inputs: []registry.Tensor{{Name: models.InputName,
		Datatype: "FP32", Shape: []int64{-1, int64(k)}, Features: fam.Features}}}
	for _, o := range fam.Outputs {
		sig.Outputs = append(sig.Outputs, registry.Tensor{Name: o.Name, Datatype: "FP32",
			Shape: []int64{-1, 1}})
	}
	ctx := registry.WithPrincipal(context.Background(), "test")
	_, err = reg.Publish(ctx, registry.PublishRequest{Model: fam.Name, Signature: sig,
		Artifact: data, Tags: map[string]string{inference.TagImpute: string(impute)},
		Promote: &registry.Promotion{Alias: "production"}})
	if err != nil {
		t.Fatalf("publish %s: %v", fam.Name, err)
	}
}

// testModels are small linear models whose outputs are easy to predict.
// publishAll publishes ms's model of every family as its production version.
func publishAll(t testing.TB, reg *registry.Registry, ms map[string]linearModel) {
	t.Helper()
	for _, fam := range models.Families {
		publish(t, reg, fam, ms[fam.Name])
	}
}

func testModels() map[string]linearModel {
	imp := func(n int, v float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	f := models.Families
	return map[string]linearModel{
		models.SweatRate: {weight: 0.001, bias: []float32{1.5, 1.2, 1.9},
			impute: imp(len(f[0].Features), 10)},
		models.ThermalTrajectory: {weight: 0, bias: []float32{37.5, 37.8, 38.1},
			impute: imp(len(f[1].Features), 0)},
		models.Anomaly: {weight: 0, bias: []float32{0.1}, impute: imp(len(f[2].Features), 0)},
	}
}

func openRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	reg, err := local.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

func loadSet(t testing.TB, reg *registry.Registry) *inference.ModelSet {
	t.Helper()
	orttest.Init(t)
	set, err := inference.LoadModelSet(context.Background(), reg, "production", ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// workout ingests 20 minutes of a hot session at 30-second steps.
func workout(t testing.TB, store features.OnlineStore, athlete string) {
	t.Helper()
	workoutFor(t, store, athlete, 20*time.Minute)
}

// workoutFor ingests the first d of the hot session.
func workoutFor(t testing.TB, store features.OnlineStore, athlete string, d time.Duration) {
	t.Helper()
	for i := range int(d / (30 * time.Second)) {
		r := features.NewReading(athlete, "watch", start.Add(time.Duration(i)*30*time.Second))
		r.Set(features.HeartRate, 140+float64(i%5))
		r.Set(features.SkinTemp, 34.5)
		r.Set(features.AmbientTemp, 32)
		r.Set(features.Humidity, 55)
		if _, err := store.Ingest(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

// workedOut returns the test models' set, closed with t, and an in-memory store
// holding athlete a1's 20-minute workout, which ends at the time returned.
func workedOut(t testing.TB) (*inference.ModelSet, *features.Store, time.Time) {
	t.Helper()
	reg := openRegistry(t)
	publishAll(t, reg, testModels())
	set := loadSet(t, reg)
	t.Cleanup(func() { set.Close() })
	store := features.NewStore(nil)
	workout(t, store, "a1")
	return set, store, start.Add(20 * time.Minute)
}

func TestAssessRunsModelsByFeatureName(t *testing.T) {
	set, store, asOf := workedOut(t)
	ms := testModels()
	v := features.NewVector()
	if err := store.Vector(context.Background(), "a1", asOf, v); err != nil {
		t.Fatal(err)
	}
	a, err := set.Assess(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}

	// Build the sweat model's input by name, imputing what is missing, and compare.
	sweat := models.Families[0]
	x := make([]float32, len(sweat.Features))
	for i, name := range sweat.Features {
		val, st, ok := v.Get(name)
		if !ok {
			t.Fatalf("schema lacks %s", name)
		}
		x[i] = float32(val)
		if st == features.StatusMissing {
			x[i] = ms[models.SweatRate].impute[i]
		}
	}
	want := ms[models.SweatRate].eval(x)
	if math.Abs(a.SweatRateLPerH-want[0]) > 1e-4 ||
		math.Abs(a.SweatRateUpperLPerH-want[2]) > 1e-4 {
		t.Errorf("sweat %.5f [%.5f], want %.5f [%.5f]", a.SweatRateLPerH,
			a.SweatRateUpperLPerH, want[0], want[2])
	}
	if math.Abs(a.CoreTemp30mC-37.8) > 1e-5 || math.Abs(a.AnomalyScore-0.1) > 1e-6 {
		t.Errorf("core+30 %.4f anomaly %.4f, want 37.8 and 0.1", a.CoreTemp30mC, a.AnomalyScore)
	}
	if got := a.ModelVersions[models.SweatRate]; got != "1" {
		t.Errorf("sweat-rate served by version %q, want 1", got)
	}
	if a.FreshestReadingAge() != 30*time.Second {
		t.Errorf("freshest reading age %s, want 30s", a.FreshestReadingAge())
	}
	if a.FeatureStatus["speed_m_per_s_mean_15m"] != "missing" {
		t.Errorf("feature status %v: speed should be reported missing", a.FeatureStatus)
	}
	if a.FluidMLPer15Min <= 0 {
		t.Errorf("fluid advice %.0f ml after 20 min sweating, want some", a.FluidMLPer15Min)
	}
	if !hasAlert(a.Alerts, "WBGT") {
		t.Errorf("alerts %q: 32 °C at 55 %% should raise a WBGT alert", a.Alerts)
	}
}

func TestAssessAlarmsOnProjectedCoreTemperature(t *testing.T) {
	reg := openRegistry(t)
	ms := testModels()
	hot := ms[models.ThermalTrajectory]
	hot.bias = []float32{39.2, 40.3, 41.0}
	ms[models.ThermalTrajectory] = hot
	publishAll(t, reg, ms)
	set := loadSet(t, reg)
	defer set.Close()

	store := features.NewStore(nil)
	workout(t, store, "a1")
	v := features.NewVector()
	_ = store.Vector(context.Background(), "a1", start.Add(20*time.Minute), v)
	a, err := set.Assess(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Alerts) == 0 || !strings.Contains(a.Alerts[0], "heat stroke risk") ||
		!strings.Contains(a.Alerts[0], "40.3") {
		t.Errorf("alerts %q: want heat stroke risk at 40.3 °C first", a.Alerts)
	}
}

func TestAssessAfterReadingsStopGivesNoCurrentAdvice(t *testing.T) {
	reg := openRegistry(t)
	ms := testModels()
	hot := ms[models.ThermalTrajectory]
	hot.bias = []float32{39.2, 40.3, 41.0} // would alarm during the session
	ms[models.ThermalTrajectory] = hot
	publishAll(t, reg, ms)
	set := loadSet(t, reg)
	defer set.Close()

	store := features.NewStore(nil)
	workout(t, store, "a1") // 20 minutes, last reading at 19.5 min
	v := features.NewVector()
	_ = store.Vector(context.Background(), "a1", start.Add(24*time.Hour), v)
	a, err := set.Assess(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Alerts) != 1 || !strings.Contains(a.Alerts[0], "no fresh readings") {
		t.Errorf("alerts %q: want only the no-fresh-readings notice", a.Alerts)
	}
	if a.FluidMLPer15Min != 0 {
		t.Errorf("fluid guidance %v ml a day later, want 0", a.FluidMLPer15Min)
	}
	if a.ElapsedMin > 20 {
		t.Errorf("elapsed %v min, want the session's clock stopped at its last reading",
			a.ElapsedMin)
	}
}

func hasAlert(alerts []string, part string) bool {
	for _, a := range alerts {
		if strings.Contains(a, part) {
			return true
		}
	}
	return false
}

// serve starts the gRPC server on a loopback port and returns a client.
func serve(t *testing.T, srv *inference.Server) hydrocastv1.HydrocastServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hydrocastv1.RegisterHydrocastServiceServer(gs, srv)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return hydrocastv1.NewHydrocastServiceClient(conn)
}

func TestGRPCIngestAndAssess(t *testing.T) {
	reg := openRegistry(t)
	for _, fam := range models.Families {
		publish(t, reg, fam, testModels()[fam.Name])
	}
	srv := inference.NewServer(features.NewStore(nil), loadSet(t, reg), nil)
	defer srv.Close()
	client := serve(t, srv)
	ctx := context.Background()

	stream, err := client.Ingest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hr := 150.0
	bad := 400.0
	for i := range 20 {
		r := &hydrocastv1.Reading{AthleteId: "a2", Source: "strap",
			Time:         timestamppb.New(start.Add(time.Duration(i) * 30 * time.Second)),
			HeartRateBpm: &hr}
		if i == 7 {
			r.HeartRateBpm = &bad
		}
		if err := stream.Send(&hydrocastv1.IngestRequest{
			Readings: []*hydrocastv1.Reading{r}}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Accepted != 19 || resp.Rejected != 1 || len(resp.Rejections) != 1 ||
		resp.Rejections[0].Index != 7 || resp.Rejections[0].Field != "heart_rate_bpm" {
		t.Fatalf("ingest response %v: want 19 accepted and reading 7 rejected for its "+
			"heart rate", resp)
	}

	a, err := client.Assess(ctx, &hydrocastv1.AssessRequest{AthleteId: "a2"})
	if err != nil {
		t.Fatal(err)
	}
	newest := start.Add(19 * 30 * time.Second)
	if !a.Time.AsTime().Equal(newest) || a.GetHeartRateBpm() != 150 ||
		a.ModelVersions[models.Anomaly] != "1" {
		t.Errorf("assessment at %v HR %v versions %v: want the newest reading's time %v, "+
			"HR 150 and version 1", a.Time.AsTime(), a.GetHeartRateBpm(), a.ModelVersions,
			newest)
	}

	_, err = client.Assess(ctx, &hydrocastv1.AssessRequest{AthleteId: "nobody"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("assess unknown athlete: %v, want NotFound", err)
	}
	_, err = client.Assess(ctx, &hydrocastv1.AssessRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("assess without athlete: %v, want InvalidArgument", err)
	}
}

func TestSwapModelsUnderLoadFailsNoRequest(t *testing.T) {
	reg := openRegistry(t)
	for _, fam := range models.Families {
		publish(t, reg, fam, testModels()[fam.Name])
	}
	store := features.NewStore(nil)
	workout(t, store, "a3")
	srv := inference.NewServer(store, loadSet(t, reg), nil)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	seen := map[string]bool{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				a, err := srv.Assess(context.Background(),
					&hydrocastv1.AssessRequest{AthleteId: "a3"})
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					seen[a.ModelVersions[models.SweatRate]] = true
				}
				mu.Unlock()
			}
		}()
	}
	for range 5 {
		publish(t, reg, models.Families[0], testModels()[models.SweatRate])
		srv.SetModels(loadSet(t, reg))
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d requests failed during swaps, first: %v", len(failures), failures[0])
	}
	if !seen["1"] || !seen["6"] {
		t.Errorf("versions served %v: want the first and the last", seen)
	}
}

func TestAssessBoundsProjectionsAndWaitsForTrends(t *testing.T) {
	reg := openRegistry(t)
	ms := testModels()
	wild := ms[models.ThermalTrajectory]
	wild.bias = []float32{45, 47, 50} // far beyond what a body can do
	ms[models.ThermalTrajectory] = wild
	publishAll(t, reg, ms)
	set := loadSet(t, reg)
	defer set.Close()

	for _, c := range []struct {
		at    time.Duration
		alarm bool
	}{{2 * time.Minute, false}, {20 * time.Minute, true}} {
		store := features.NewStore(nil)
		workoutFor(t, store, "a1", c.at)
		v := features.NewVector()
		_ = store.Vector(context.Background(), "a1", start.Add(c.at), v)
		a, err := set.Assess(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		// Bounded to +0.1 °C/min, and leaning toward the estimate for 5 minutes.
		want := 3.0 * min(1, a.ElapsedMin/5)
		if d := a.CoreTemp30mC - a.CoreTempC; math.Abs(d-want) > 1e-9 || want <= 0 {
			t.Errorf("at %s (%.1f min in): projection 30 min ahead %.2f from %.2f; "+
				"want +%.2f", c.at, a.ElapsedMin, a.CoreTemp30mC, a.CoreTempC, want)
		}
		if got := hasAlert(a.Alerts, "core temperature"); got != c.alarm {
			t.Errorf("at %s: alerts %q; want a projection alarm: %t", c.at, a.Alerts, c.alarm)
		}
	}
}
