package inference_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/ort"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/blobstore"
	"github.com/hydrocast/hydrocast/registry/local"
)

// syncBuffer is a log sink that tests read while servers write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records with message msg.
func (b *syncBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func jsonLogger(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// abRegistry publishes every family at version 1 (production) and sweat-rate
// versions 2 and 3, then sets sweat-rate's traffic policy to 1=50,2=50 with version
// 3 as shadow.
func abRegistry(t *testing.T) (*registry.Registry, string) {
	t.Helper()
	dir := t.TempDir()
	reg, err := local.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ms := testModels()
	publishAll(t, reg, ms)
	for _, bias := range []float32{2.5, 3.5} { // versions 2 and 3 answer differently
		m := ms[models.SweatRate]
		m.bias = []float32{bias, bias - 0.3, bias + 0.4}
		publish(t, reg, models.Families[0], m)
	}
	ctx := registry.WithPrincipal(context.Background(), "test")
	if _, err := reg.SetAlias(ctx, registry.AliasMove{Model: models.SweatRate,
		Alias: "production", Version: 1}); err != nil {
		t.Fatal(err)
	}
	setTraffic(t, reg, "1=50,2=50", 3, "exp-ab")
	return reg, dir
}

func setTraffic(t *testing.T, reg *registry.Registry, split string, shadow int,
	salt string) {
	t.Helper()
	arms, err := registry.ParseSplit(split)
	if err != nil {
		t.Fatal(err)
	}
	ctx := registry.WithPrincipal(context.Background(), "test")
	_, err = reg.SetTraffic(ctx, registry.TrafficChange{Reason: "test",
		Policy: registry.TrafficPolicy{Model: models.SweatRate, Arms: arms,
			Shadow: shadow, Salt: salt}})
	if err != nil {
		t.Fatalf("set traffic %s: %v", split, err)
	}
}

func TestTrafficAssignsStickyVersionsAndLogsThem(t *testing.T) {
	reg, _ := abRegistry(t)
	store := features.NewStore(nil)
	const athletes = 40
	for i := range athletes {
		workoutFor(t, store, fmt.Sprintf("ab-%d", i), 3*time.Minute)
	}

	// Two servers built independently, as two replicas would be.
	logs := []*syncBuffer{{}, {}}
	servers := make([]*inference.Server, 2)
	for i := range servers {
		servers[i] = inference.NewServer(store, loadSet(t, reg), jsonLogger(logs[i]))
	}
	policy, err := reg.Traffic(context.Background(), models.SweatRate)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]int{}
	for i := range athletes {
		id := fmt.Sprintf("ab-%d", i)
		var got [2]string
		for k, srv := range servers {
			a, err := srv.Assess(context.Background(), &hydrocastv1.AssessRequest{AthleteId: id})
			if err != nil {
				t.Fatalf("assess %s: %v", id, err)
			}
			got[k] = a.ModelVersions[models.SweatRate]
			want := policy.Arms[policy.Assign(id)].Version
			if got[k] != strconv.Itoa(want) {
				t.Fatalf("%s served by sweat-rate version %q, want its arm's %d", id,
					got[k], want)
			}
			if a.ModelVersions[models.Anomaly] != "1" {
				t.Errorf("anomaly served by %q, want its production version 1",
					a.ModelVersions[models.Anomaly])
			}
		}
		if got[0] != got[1] {
			t.Errorf("%s served by version %s on one server and %s on the other",
				id, got[0], got[1])
		}
		served[got[0]]++
	}
	if served["1"] == 0 || served["2"] == 0 {
		t.Errorf("versions served %v: want both arms used", served)
	}
	for _, srv := range servers {
		if err := srv.Close(); err != nil { // waits for the shadow runs
			t.Fatal(err)
		}
	}

	// Every assignment is logged with what A/B analysis needs, and matches the policy.
	assigned := logs[0].records(t, "traffic assignment")
	if len(assigned) != athletes {
		t.Fatalf("%d assignments logged, want %d", len(assigned), athletes)
	}
	for _, rec := range assigned {
		id, _ := rec["athlete_id"].(string)
		arm := policy.Assign(id)
		if rec["model"] != models.SweatRate || rec["experiment"] != "exp-ab" ||
			rec["arm"] != float64(arm) ||
			rec["version"] != float64(policy.Arms[arm].Version) {
			t.Errorf("assignment record %v, want %s arm %d version %d of exp-ab",
				rec, id, arm, policy.Arms[arm].Version)
		}
	}

	// The shadow ran on mirrored copies, was logged, and never answered.
	stats := servers[0].ShadowStats()
	shadowed := logs[0].records(t, "shadow result")
	if stats.Ran+stats.Dropped != athletes || int64(len(shadowed)) != stats.Ran ||
		stats.Ran == 0 {
		t.Errorf("shadow stats %+v with %d results logged, want %d mirrored requests",
			stats, len(shadowed), athletes)
	}
	for _, rec := range shadowed {
		out, _ := rec["outputs"].(map[string]any)
		rate, _ := out[models.OutSweatRate].(float64)
		if rec["version"] != float64(3) || rec["experiment"] != "exp-ab" || rate < 3.5 {
			t.Errorf("shadow record %v, want version 3 of exp-ab with its own output", rec)
			break
		}
	}
}

func TestTrafficSplitsWithinBinomialBound(t *testing.T) {
	reg, _ := abRegistry(t)
	set := loadSet(t, reg)
	defer set.Close()

	const n = 2000
	count := 0
	for i := range n {
		r := set.Route("athlete-" + strconv.Itoa(i))
		if r.Models[0].Version.Number == 2 {
			count++
		}
	}
	// Binomial(2000, 0.5): standard deviation √(2000/4) ≈ 22.4; four of them bound
	// a fair split with a false alarm about once in 16,000 runs.
	if d := math.Abs(float64(count) - n/2); d > 4*math.Sqrt(n/4.0) {
		t.Errorf("version 2 got %d of %d athletes, want %d ± %.0f", count, n, n/2,
			4*math.Sqrt(n/4.0))
	}
	if got := set.Served()[models.SweatRate]; strings.Join(got, ",") != "1,2,3" {
		t.Errorf("sweat-rate versions loaded %v, want 1, 2 and the shadow 3", got)
	}
}

func TestTrafficPolicyChangeSwapsUnderLoadFailingNoRequest(t *testing.T) {
	reg, _ := abRegistry(t)
	store := features.NewStore(nil)
	for i := range 8 {
		workoutFor(t, store, fmt.Sprintf("load-%d", i), 3*time.Minute)
	}
	srv := inference.NewServer(store, loadSet(t, reg), nil)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Watch(ctx, reg, inference.WatchOptions{Interval: 20 * time.Millisecond})

	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	seen := map[string]bool{}
	load, stopLoad := context.WithCancel(context.Background())
	for w := range 4 {
		wg.Go(func() {
			for i := 0; load.Err() == nil; i++ {
				id := fmt.Sprintf("load-%d", (w+i)%8)
				a, err := srv.Assess(context.Background(),
					&hydrocastv1.AssessRequest{AthleteId: id})
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					seen[a.ModelVersions[models.SweatRate]] = true
				}
				mu.Unlock()
			}
		})
	}

	// Each step waits until the watcher serves it, while requests keep running.
	steps := []struct{ split, serves string }{
		{"3=1", "3"}, {"1=1", "1"}, {"2=100", "2"}, {"3=1", "3"},
	}
	for _, st := range steps {
		setTraffic(t, reg, st.split, 0, "")
		waitFor(t, 10*time.Second, "policy "+st.split, func() bool {
			return strings.Join(srv.Models().Served()[models.SweatRate], ",") == st.serves
		})
	}
	stopLoad()
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d requests failed during swaps, first: %v", len(failures), failures[0])
	}
	for _, v := range []string{"1", "2", "3"} {
		if !seen[v] {
			t.Errorf("versions served %v: want %s among them", seen, v)
		}
	}
}

func TestWatchSeesAliasMoveWithinTwoSeconds(t *testing.T) {
	reg := openRegistry(t)
	ms := testModels()
	publishAll(t, reg, ms)
	srv := inference.NewServer(features.NewStore(nil), loadSet(t, reg), nil)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Watch(ctx, reg, inference.WatchOptions{Interval: 500 * time.Millisecond})

	publish(t, reg, models.Families[1], ms[models.ThermalTrajectory]) // moves production
	waitFor(t, 2*time.Second, "thermal version 2", func() bool {
		return srv.Models().Versions()[models.ThermalTrajectory] == "2"
	})
}

// corrupt flips a byte in the middle of the version's artifact file.
func corrupt(t *testing.T, reg *registry.Registry, dir, model string, number int) {
	t.Helper()
	v, err := reg.Version(context.Background(), model, number)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, local.ArtifactFolder, filepath.FromSlash(blobstore.Key(v.Digest)))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptArtifactKeepsServedVersion(t *testing.T) {
	reg, dir := abRegistry(t)
	ctx := registry.WithPrincipal(context.Background(), "test")
	setTraffic(t, reg, "1=1", 0, "")
	ms := testModels()
	publish(t, reg, models.Families[1], ms[models.ThermalTrajectory]) // thermal v2
	if _, err := reg.SetAlias(ctx, registry.AliasMove{Model: models.ThermalTrajectory,
		Alias: "production", Version: 1}); err != nil {
		t.Fatal(err)
	}
	store := features.NewStore(nil)
	workoutFor(t, store, "c-1", 3*time.Minute)
	buf := &syncBuffer{}
	srv := inference.NewServer(store, loadSet(t, reg), jsonLogger(buf))
	defer srv.Close()

	// Damage both second versions on disk, then point the policy and the alias at
	// them.
	corrupt(t, reg, dir, models.SweatRate, 2)
	corrupt(t, reg, dir, models.ThermalTrajectory, 2)
	v2, err := reg.Version(ctx, models.SweatRate, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Artifact(ctx, v2); !errors.Is(err, registry.ErrCorrupt) {
		t.Fatalf("reading the damaged artifact: error %v, want ErrCorrupt", err)
	}
	_, err = inference.LoadModel(ctx, reg, models.Families[0], v2, ort.Options{})
	if !errors.Is(err, registry.ErrCorrupt) {
		t.Fatalf("loading the damaged version: error %v, want ErrCorrupt", err)
	}
	setTraffic(t, reg, "2=1", 0, "")
	if _, err := reg.SetAlias(ctx, registry.AliasMove{Model: models.ThermalTrajectory,
		Alias: "production", Version: 2}); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Watch(wctx, reg, inference.WatchOptions{Interval: 20 * time.Millisecond,
		RetireCorrupt: true})
	status := func(model string) registry.Status {
		v, err := reg.Version(ctx, model, 2)
		if err != nil {
			t.Fatal(err)
		}
		return v.Status
	}
	waitFor(t, 10*time.Second, "both corrupt versions marked failed", func() bool {
		a, err := srv.Assess(context.Background(), &hydrocastv1.AssessRequest{AthleteId: "c-1"})
		if err != nil || a.ModelVersions[models.SweatRate] != "1" ||
			a.ModelVersions[models.ThermalTrajectory] != "1" {
			t.Fatalf("while retiring: versions %v, error %v; want 1 served throughout",
				a.GetModelVersions(), err)
		}
		return status(models.SweatRate) == registry.StatusFailed &&
			status(models.ThermalTrajectory) == registry.StatusFailed
	})

	if n := len(buf.records(t, "model artifact corrupt; keeping the served versions")); n < 2 {
		t.Errorf("%d corrupt loads logged, want one per version", n)
	}
	if _, err := reg.Traffic(ctx, models.SweatRate); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("sweat-rate policy after retiring its arm: error %v, want none", err)
	}
	history, err := reg.History(ctx, models.ThermalTrajectory, "production")
	if err != nil || history[0].From != 2 || history[0].To != 1 ||
		history[0].Principal != "hydrocast-serve" {
		t.Errorf("thermal production history %+v (error %v), want a move 2>1 by "+
			"hydrocast-serve first", history, err)
	}
}

// waitFor polls cond until it holds, failing t after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
