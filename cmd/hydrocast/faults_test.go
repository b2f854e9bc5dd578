package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/blobstore"
	"github.com/hydrocast/hydrocast/registry/local"
)

// The fault suite: each fault is done to real `hydrocast serve` processes on loopback,
// bounded in time, and its outcome becomes a row of docs/faults.md. Run with
// HYDROCAST_WRITE_FAULTS=1 to rewrite the table:
//
//	HYDROCAST_WRITE_FAULTS=1 go test ./cmd/hydrocast -run TestFaults -count=1

// faultRow is one row of the table.
type faultRow struct {
	Fault    string // what was done
	Expected string // what must hold
	Observed string // what the run saw
	Test     string // where it is tried
}

// faultNames are the faults this suite tries, in table order; faultsElsewhere are
// tried by other packages' tests and listed with them.
var (
	faultKillIngest = "kill -9 during ingest"
	faultRedis      = "Redis stopped mid-run"
	faultOverload   = "overload at 3x capacity"
	faultCorrupt    = "corrupted artifact on disk"
	faultNames      = []string{faultKillIngest, faultRedis, faultOverload, faultCorrupt}

	faultsElsewhere = []faultRow{
		{"kill -9 during an upload", "the registry is consistent; no half version",
			"asserted by that test", "registry/local TestKillDuringUpload"},
		{"kill -9 during an alias move", "the alias points at the old or the new " +
			"version, with history to match", "asserted by that test",
			"registry/local TestKillDuringAliasMoves"},
		{"hot swap under load", "zero failed requests", "asserted by that test",
			"inference TestSwapModelsUnderLoadFailsNoRequest"},
	}
)

var faultTable struct {
	mu   sync.Mutex
	rows map[string]faultRow
}

func recordFault(t *testing.T, fault, expected, observed string) {
	t.Helper()
	t.Logf("%s: %s", fault, observed)
	faultTable.mu.Lock()
	defer faultTable.mu.Unlock()
	if faultTable.rows == nil {
		faultTable.rows = map[string]faultRow{}
	}
	faultTable.rows[fault] = faultRow{fault, expected, observed, "cmd/hydrocast " + t.Name()}
}

func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite starts and kills servers")
	}
	t.Run("KillDuringIngest", testKillDuringIngest)
	t.Run("RedisStopped", testRedisStopped)
	t.Run("Overload", testOverload)
	t.Run("CorruptArtifact", testCorruptArtifact)

	if os.Getenv("HYDROCAST_WRITE_FAULTS") == "1" && !t.Failed() {
		if err := writeFaultsDoc(filepath.Join("..", "..", "docs", "faults.md")); err != nil {
			t.Fatal(err)
		}
	}
}

// reading is one simulated wearable reading of athlete at second i of a session.
func faultReading(athlete string, base time.Time, i int) *hydrocastv1.Reading {
	hr, skin, amb, hum := 120+float64(i%40), 34.0+float64(i%10)/10, 31.0, 55.0
	return &hydrocastv1.Reading{AthleteId: athlete, Source: "watch",
		Time:         timestamppb.New(base.Add(time.Duration(i) * time.Second)),
		HeartRateBpm: &hr, SkinTempC: &skin, AmbientTempC: &amb, HumidityPct: &hum}
}

// ingest sends rs in one Ingest stream and returns the server's acknowledgement.
func faultIngest(ctx context.Context, c hydrocastv1.HydrocastServiceClient,
	rs []*hydrocastv1.Reading) (*hydrocastv1.IngestResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := c.Ingest(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(&hydrocastv1.IngestRequest{Readings: rs}); err != nil &&
		!errors.Is(err, io.EOF) {
		return nil, err
	}
	return st.CloseAndRecv()
}

// ackedReadings are the readings whose Ingest the server acknowledged, per athlete.
type ackedReadings struct {
	mu  sync.Mutex
	by  map[string][]*hydrocastv1.Reading
	num atomic.Int64
}

func (a *ackedReadings) add(rs []*hydrocastv1.Reading) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range rs {
		a.by[r.GetAthleteId()] = append(a.by[r.GetAthleteId()], r)
	}
	a.num.Add(int64(len(rs)))
}

// testKillDuringIngest kills the server with SIGKILL while four clients stream
// readings, restarts it on the same state folder, and sends every acknowledged
// reading again: each must come back a duplicate, i.e. the restarted server has it.
func testKillDuringIngest(t *testing.T) {
	home, _ := faultModelHome(t)
	srv := startFaultServer(t, home)
	c := srv.client()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)

	const writers, athletesPer, perAthlete, batch = 4, 2, 100, 5
	ack := &ackedReadings{by: map[string][]*hydrocastv1.Reading{}}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < perAthlete; i += batch {
				for a := range athletesPer {
					id := fmt.Sprintf("kill-%d-%d", w, a)
					var rs []*hydrocastv1.Reading
					for j := i; j < i+batch; j++ {
						rs = append(rs, faultReading(id, base, j))
					}
					resp, err := faultIngest(context.Background(), c, rs)
					if err != nil {
						return // the server is gone
					}
					if resp.GetAccepted() != batch {
						t.Errorf("batch of %s accepted %d of %d", id, resp.GetAccepted(), batch)
					}
					ack.add(rs)
				}
			}
		})
	}
	total := int64(writers * athletesPer * perAthlete)
	writing := make(chan struct{})
	go func() {
		wg.Wait()
		close(writing)
	}()
	deadline := time.After(60 * time.Second)
	for ack.num.Load() < total/2 {
		select {
		case <-writing:
			t.Fatalf("the writers stopped after %d acknowledged readings, before the "+
				"kill:\n%s", ack.num.Load(), srv.log.String())
		case <-deadline:
			t.Fatalf("only %d readings acknowledged in 60 s", ack.num.Load())
		case <-time.After(time.Millisecond):
		}
	}
	srv.kill()
	<-writing
	ackedAtKill := ack.num.Load()
	if ackedAtKill >= total {
		t.Fatalf("every reading was acknowledged before the kill; the fault missed ingest")
	}

	srv = startFaultServer(t, home)
	c = srv.client()
	var missing int64
	for id, rs := range ack.by {
		resp, err := faultIngest(t.Context(), c, rs)
		if err != nil {
			t.Fatalf("resend %s after restart: %v", id, err)
		}
		if resp.GetDuplicates() != int64(len(rs)) {
			missing += int64(len(rs)) - resp.GetDuplicates()
			t.Errorf("%s: %d of %d acknowledged readings were not there after the "+
				"restart (accepted %d, late %d)", id, int64(len(rs))-resp.GetDuplicates(),
				len(rs), resp.GetAccepted(), resp.GetLate())
		}
	}
	recordFault(t, faultKillIngest, "after restart no acknowledged reading is missing",
		fmt.Sprintf("killed after %d of %d readings were acknowledged (4 streaming "+
			"clients); after restart %d missing", ackedAtKill, total, missing))
}

// privateRedis runs a redis-server of this test's own on a free loopback port, with
// an fsync-always append-only file, so that stopping and starting it keeps its data.
type privateRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T, port int, dir string) *privateRedis {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	r := &privateRedis{t: t, port: port, dir: dir}
	r.cmd = exec.Command(path, "--bind", "127.0.0.1", "--port", fmt.Sprint(port),
		"--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

// stop ends the private server with SIGTERM, which flushes its file, and waits.
func (r *privateRedis) stop() {
	if r.cmd.ProcessState != nil {
		return
	}
	_ = r.cmd.Process.Signal(os.Interrupt)
	_ = r.cmd.Wait()
}

func faultAssess(ctx context.Context, c hydrocastv1.HydrocastServiceClient, id string,
	asOf *timestamppb.Timestamp) (*hydrocastv1.Assessment, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Assess(ctx, &hydrocastv1.AssessRequest{AthleteId: id, AsOf: asOf})
}

func countStale(a *hydrocastv1.Assessment) int {
	n := 0
	for _, s := range a.GetFeatureStatus() {
		if s == "stale" {
			n++
		}
	}
	return n
}

// testRedisStopped stops the Redis feature store under a running server: assessments
// go on from the last known vectors, marked stale; ingest refuses what it cannot
// store and keeps what it acknowledged; all recovers when Redis returns.
func testRedisStopped(t *testing.T) {
	home, _ := faultModelHome(t)
	port, dir := faultFreePort(t), t.TempDir()
	rds := startPrivateRedis(t, port, dir)
	srv := startFaultServer(t, home, "--feature-store", "redis",
		"--redis-addr", fmt.Sprintf("127.0.0.1:%d", port))
	c := srv.client()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	const id = "redis-1"

	var rs []*hydrocastv1.Reading
	for i := range 60 {
		rs = append(rs, faultReading(id, base, i))
	}
	var err error
	for range 100 { // Redis may still be starting
		if _, err = faultIngest(t.Context(), c, rs); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ingest with Redis up: %v", err)
	}
	asOf := rs[len(rs)-1].GetTime()
	before, err := faultAssess(t.Context(), c, id, asOf)
	if err != nil || countStale(before) != 0 {
		t.Fatalf("assess with Redis up: %v, %d stale features", err, countStale(before))
	}

	rds.stop()
	during, err := faultAssess(t.Context(), c, id, asOf)
	if err != nil {
		t.Fatalf("assess at a known time with Redis down: %v, want the kept vector", err)
	}
	if countStale(during) == 0 {
		t.Errorf("assessment with Redis down marks no feature stale: %v",
			during.GetFeatureStatus())
	}
	if during.GetSweatRateLPerH() != before.GetSweatRateLPerH() {
		t.Errorf("sweat rate %v with Redis down, %v before; want the last known vector's",
			during.GetSweatRateLPerH(), before.GetSweatRateLPerH())
	}
	noAsOfResp, noAsOfErr := faultAssess(t.Context(), c, id, nil)
	if noAsOfErr != nil || countStale(noAsOfResp) == 0 {
		t.Errorf("assess now with Redis down: %v, %d stale features; want the last "+
			"known vector, stale", noAsOfErr, countStale(noAsOfResp))
	}
	more := []*hydrocastv1.Reading{faultReading(id, base, 60)}
	_, ingestErr := faultIngest(t.Context(), c, more)
	if status.Code(ingestErr) != codes.Unavailable {
		t.Errorf("ingest with Redis down: %v, want Unavailable (not acknowledged)", ingestErr)
	}

	startPrivateRedis(t, port, dir)
	var resp *hydrocastv1.IngestResponse
	for range 100 {
		if resp, err = faultIngest(t.Context(), c, rs); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ingest after Redis returned: %v", err)
	}
	if resp.GetDuplicates() != int64(len(rs)) {
		t.Errorf("after Redis returned, %d of %d acknowledged readings were there",
			resp.GetDuplicates(), len(rs))
	}
	if _, err := faultIngest(t.Context(), c, more); err != nil {
		t.Errorf("new readings after Redis returned: %v", err)
	}
	after, err := faultAssess(t.Context(), c, id, nil)
	if err != nil || countStale(after) != 0 {
		t.Errorf("assess after Redis returned: %v, %d stale features", err,
			countStale(after))
	}

	noAsOf := "answered the same way"
	if noAsOfErr != nil {
		noAsOf = "refused with " + status.Code(noAsOfErr).String()
	}
	recordFault(t, faultRedis, "assessments continue from the last known vectors, marked "+
		"stale; ingest keeps what it acknowledged; recovery when Redis returns",
		fmt.Sprintf("Redis down: Assess with an as-of time answered from the kept vector "+
			"(%d features stale), without one %s; Ingest refused with %s; Redis back: "+
			"%d/%d acknowledged readings there, ingest and fresh assessments resumed",
			countStale(during), noAsOf, status.Code(ingestErr), resp.GetDuplicates(),
			len(rs)))
}

// testOverload runs three times as many concurrent callers as the server admits
// (--max-inflight) and checks that the excess is refused with a retry hint, that
// nothing else fails, that memory stays bounded and that service resumes at once.
func testOverload(t *testing.T) {
	home, _ := faultModelHome(t)
	const capacity, athletes, callsPer = 4, 64, 30
	srv := startFaultServer(t, home, "--max-inflight", fmt.Sprint(capacity),
		"--feature-store", "memory")
	c := srv.client()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	batch := &hydrocastv1.AssessBatchRequest{}
	for a := range athletes {
		id := fmt.Sprintf("load-%d", a)
		var rs []*hydrocastv1.Reading
		for i := range 30 {
			rs = append(rs, faultReading(id, base, i))
		}
		if _, err := faultIngest(t.Context(), c, rs); err != nil {
			t.Fatal(err)
		}
		batch.Requests = append(batch.Requests, &hydrocastv1.AssessRequest{AthleteId: id})
	}
	if _, err := c.AssessBatch(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	rssBefore, _ := srv.memory()

	// Open ingest streams hold all slots but one for the whole load, so that the
	// callers contend for a slot however fast this machine answers them: on a quiet
	// machine twelve callers of a 13 ms call can otherwise find four slots enough.
	holdCtx, release := context.WithCancel(t.Context())
	defer release()
	for range capacity - 1 {
		if _, err := c.Ingest(holdCtx); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the server start the streams' handlers

	var mu sync.Mutex
	var okLat, refusedLat []time.Duration
	var others []error
	var wg sync.WaitGroup
	for range 3 * capacity {
		wg.Go(func() {
			for range callsPer {
				start := time.Now()
				_, err := c.AssessBatch(t.Context(), batch)
				took := time.Since(start)
				mu.Lock()
				switch {
				case err == nil:
					okLat = append(okLat, took)
				case status.Code(err) == codes.ResourceExhausted && carriesRetryInfo(err):
					refusedLat = append(refusedLat, took)
				default:
					others = append(others, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	_, peak := srv.memory()
	release()
	var recoverErr error
	for range 50 { // the held streams' slots come back as their handlers return
		if _, recoverErr = c.AssessBatch(t.Context(), batch); recoverErr == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	if len(others) > 0 {
		t.Errorf("%d calls failed otherwise than refused with a retry hint, first: %v",
			len(others), others[0])
	}
	if len(refusedLat) == 0 || len(okLat) == 0 {
		t.Errorf("%d served, %d refused: want both under 3x the admitted concurrency",
			len(okLat), len(refusedLat))
	}
	const headroom = 256 << 20
	if peak > rssBefore+headroom {
		t.Errorf("peak memory %d MiB under overload, %d MiB before: grew more than %d MiB",
			peak>>20, rssBefore>>20, headroom>>20)
	}
	if recoverErr != nil {
		t.Errorf("first call after the overload: %v", recoverErr)
	}
	recordFault(t, faultOverload, "excess refused fast (RESOURCE_EXHAUSTED with a retry "+
		"hint), memory bounded, immediate recovery",
		fmt.Sprintf("%d callers for %d slots, %d of them held by open ingest streams "+
			"(AssessBatch of %d athletes): %d served "+
			"(p50 %v, p99 %v), %d refused (p50 %v, p99 %v), %d other errors; peak RSS "+
			"%d MiB from %d MiB; once the streams closed, the next call %s",
			3*capacity, capacity, capacity-1, athletes, len(okLat), latencyPct(okLat, 50),
			latencyPct(okLat, 99),
			len(refusedLat), latencyPct(refusedLat, 50), latencyPct(refusedLat, 99), len(others),
			peak>>20, rssBefore>>20, faultOutcome(recoverErr)))
}

func carriesRetryInfo(err error) bool {
	return slices.ContainsFunc(status.Convert(err).Details(), func(d any) bool {
		_, ok := d.(*errdetails.RetryInfo)
		return ok
	})
}

// pct returns the p-th percentile of ds, rounded for the table.
func latencyPct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(100 * time.Microsecond)
}

func faultOutcome(err error) string {
	if err == nil {
		return "succeeded"
	}
	return "failed: " + status.Code(err).String()
}

// testCorruptArtifact damages a new version's artifact on disk, moves production to
// it, and checks that the server detects it and keeps serving the previous version.
func testCorruptArtifact(t *testing.T) {
	home, reg := faultModelHome(t)
	srv := startFaultServer(t, home, "--reload-interval", "200ms")
	c := srv.client()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var rs []*hydrocastv1.Reading
	for i := range 30 {
		rs = append(rs, faultReading("corrupt-1", base, i))
	}
	if _, err := faultIngest(t.Context(), c, rs); err != nil {
		t.Fatal(err)
	}

	sweat := models.Families[0]
	v2 := faultPublishLinear(t, reg, sweat, 0.002, "")
	blob := filepath.Join(home, "registry", local.ArtifactFolder,
		filepath.FromSlash(blobstore.Key(v2.Digest)))
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatalf("find the new version's artifact: %v", err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = reg.SetAlias(registry.WithPrincipal(t.Context(), "fault-suite"),
		registry.AliasMove{Model: sweat.Name, Alias: "production", Version: v2.Number})
	if err != nil {
		t.Fatal(err)
	}

	detected := srv.waitLog("model artifact corrupt")
	a, err := faultAssess(t.Context(), c, "corrupt-1", nil)
	if err != nil {
		t.Fatalf("assess after the corrupt version was aliased: %v", err)
	}
	served := a.GetModelVersions()[sweat.Name]
	if !detected {
		t.Errorf("the server logged no corrupt artifact:\n%s", srv.log.String())
	}
	if served != "1" {
		t.Errorf("serving %s version %q, want the previous version 1", sweat.Name, served)
	}
	// The server retires the version: production moves back, then v2 is marked failed.
	var status registry.Status
	var prod registry.Version
	for range 50 {
		v, err := reg.Version(t.Context(), sweat.Name, v2.Number)
		if err == nil {
			status = v.Status
		}
		prod, _ = reg.Resolve(t.Context(), sweat.Name, "production")
		if status == registry.StatusFailed && prod.Number == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != registry.StatusFailed || prod.Number != 1 {
		t.Errorf("v%d is %s and production points at v%d; want failed, and v1", v2.Number,
			status, prod.Number)
	}
	recordFault(t, faultCorrupt, "detected, version marked failed, the previous one serves",
		fmt.Sprintf("one byte of %s v%d flipped, production moved to it: detected=%v "+
			"(digest check, logged as an error), Assess answered by v%s; production moved "+
			"back to v%d and v%d marked %s by the server", sweat.Name, v2.Number, detected,
			served, prod.Number, v2.Number, status))
}

// faultsBegin and faultsEnd enclose the generated table in docs/faults.md.
const (
	faultsBegin = "<!-- fault table: written by HYDROCAST_WRITE_FAULTS=1 go test " +
		"./cmd/hydrocast -run TestFaults -->"
	faultsEnd = "<!-- end of fault table -->"
)

// writeFaultsDoc replaces the table between the markers of the doc at path.
func writeFaultsDoc(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	head, rest, ok1 := strings.Cut(string(doc), faultsBegin)
	_, tail, ok2 := strings.Cut(rest, faultsEnd)
	if !ok1 || !ok2 {
		return fmt.Errorf("%s lacks the fault table markers", path)
	}
	var b strings.Builder
	b.WriteString(faultsBegin + "\n\n")
	b.WriteString("| fault | must hold | observed | tried by |\n|---|---|---|---|\n")
	faultTable.mu.Lock()
	rows := make([]faultRow, 0, len(faultNames)+len(faultsElsewhere))
	for _, name := range faultNames {
		if r, ok := faultTable.rows[name]; ok {
			rows = append(rows, r)
		}
	}
	faultTable.mu.Unlock()
	if len(rows) != len(faultNames) {
		return fmt.Errorf("only %d of %d faults ran; run the whole suite", len(rows),
			len(faultNames))
	}
	for _, r := range append(rows, faultsElsewhere...) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Fault, r.Expected, r.Observed, r.Test)
	}
	fmt.Fprintf(&b, "\nLast run: %s.\n\n", time.Now().UTC().Format("2006-01-02"))
	return os.WriteFile(path, []byte(head+b.String()+faultsEnd+tail), 0o644)
}

// TestFaultsDocListsEveryFault keeps docs/faults.md honest: its table names every
// fault the suite tries and every one tried elsewhere.
func TestFaultsDocListsEveryFault(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "faults.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), faultsBegin)
	table, _, ok := strings.Cut(rest, faultsEnd)
	if !ok {
		t.Fatal("docs/faults.md lacks the fault table markers")
	}
	names := slices.Clone(faultNames)
	for _, r := range faultsElsewhere {
		names = append(names, r.Fault)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.Contains(table, "| "+name+" |") {
			t.Errorf("docs/faults.md has no row for %q; rerun with HYDROCAST_WRITE_FAULTS=1",
				name)
		}
	}
}
