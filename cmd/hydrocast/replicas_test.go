package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ps "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/protobuf/proto"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/pubsub"
	"github.com/hydrocast/hydrocast/features/redisstore"
	"github.com/hydrocast/hydrocast/features/wire"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/engine"
	"github.com/hydrocast/hydrocast/registry/local"
)

// envReplicaArgs carries, JSON-encoded, the command line of a replica that the test
// binary runs as a child process (see TestReplicaProcess).
const envReplicaArgs = "HYDROCAST_TEST_REPLICA_ARGS"

// Where the replica tests find the shared services; the PostgreSQL URL may be changed
// with HYDROCAST_TEST_POSTGRES, as in registry/postgres's tests.
const (
	replicaRedisAddr   = "127.0.0.1:6379"
	replicaPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// TestReplicaProcess is not a test: it is the body of a replica child process, which
// runs hydrocast with the arguments in envReplicaArgs until it is signalled.
func TestReplicaProcess(t *testing.T) {
	raw := os.Getenv(envReplicaArgs)
	if raw == "" {
		t.Skip("runs only as the child process of TestReplicasAgree")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintln(os.Stderr, "replica arguments:", err)
		os.Exit(2)
	}
	os.Args = append([]string{"hydrocast"}, args...)
	main()
	os.Exit(0)
}

// TestReplicasAgree runs two `serve` processes that share Redis (features) and
// PostgreSQL (registry), and an `ingest` worker on Pub/Sub's fake server: readings
// ingested through one replica, or published for the worker, are assessed
// identically by both, an alias moved in the registry reaches both within 2 s, both
// assign athletes to the same arm of an A/B split, and a client that retries loses no
// request while one replica stops.
func TestReplicasAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models and starts two servers")
	}
	rdb := replicaRedis(t)
	home, replayArgs := trainedHome(t)
	regURL := copyRegistryToPostgres(t, filepath.Join(home, "registry"))

	a := startReplica(t, "a", regURL)
	b := startReplica(t, "b", regURL)

	// Athletes of this run only, so that other suites sharing Redis are untouched
	// and this test's keys can be deleted by name.
	run := randomHex(t, 6)
	athlete := "replicas-" + run + "-1"
	t.Cleanup(func() { deleteAthleteKeys(t, rdb, "replicas-"+run) })

	c := &cli{t: t, home: t.TempDir()}
	c.must(append(append([]string{"replay"}, strings.Fields(replayArgs)...),
		"--athlete", athlete, "--server", a.addr, "--output", "jsonl")...)

	t.Run("identical assessments", func(t *testing.T) {
		fromA := assessAt(t, a.addr, athlete)
		fromB := assessAt(t, b.addr, athlete)
		if !proto.Equal(fromA, fromB) {
			t.Fatalf("replicas disagree:\na: %v\nb: %v", fromA, fromB)
		}
		if fromA.GetAthleteId() != athlete || fromA.GetFreshestReadingTime() == nil {
			t.Fatalf("assessment is not of the replayed athlete: %v", fromA)
		}
	})

	t.Run("alias move reaches both within 2 s", func(t *testing.T) {
		before := assessAt(t, a.addr, athlete).GetModelVersions()["sweat-rate"]
		next := republish(t, regURL, "sweat-rate")
		moved := time.Now()
		for _, r := range []*replica{a, b} {
			waitForVersion(t, r, athlete, "sweat-rate", next, moved.Add(2*time.Second))
		}
		if before == next {
			t.Fatalf("sweat-rate served version %s before the move too", before)
		}
	})

	t.Run("identical A/B assignments", func(t *testing.T) {
		// The alias step made sweat-rate versions 1 and 2; split athletes between them.
		admin := &cli{t: t, home: t.TempDir()}
		admin.must("--registry", regURL, "models", "traffic", "set", "sweat-rate",
			"--split", "1=50,2=50", "--reason", "replica test")
		athletes := ingestAthletes(t, a.addr, "replicas-"+run+"-ab-", 24)
		sameAssignments(t, a, b, athletes, "sweat-rate")
	})

	t.Run("an ingest worker feeds both", func(t *testing.T) {
		emulator, sub, publish := readingsTopic(t)
		w := startIngestWorker(t, emulator, sub)
		id := "replicas-" + run + "-pubsub"
		start := time.Now().Add(-20 * time.Minute).Truncate(time.Second)
		for i := range 20 {
			r := features.NewReading(id, "watch", start.Add(time.Duration(i)*30*time.Second))
			r.Set(features.HeartRate, float64(130+i))
			r.Set(features.SkinTemp, 34)
			publish(id, wire.ToProto(&r))
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			fromA, errA := tryAssess(t, a.addr, id)
			fromB, errB := tryAssess(t, b.addr, id)
			if errA == nil && errB == nil && fromA.GetFreshestReadingTime().AsTime().Equal(
				start.Add(19*30*time.Second)) {
				if !proto.Equal(fromA, fromB) {
					t.Fatalf("replicas disagree on the worker's athlete:\na: %v\nb: %v",
						fromA, fromB)
				}
				break
			}
			if time.Now().After(deadline) {
				w.stop(t)
				t.Fatalf("after 20 s the replicas do not serve the worker's readings: "+
					"a %v, b %v; the worker's log:\n%s", errA, errB, w.stderr())
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("a retrying client loses nothing when a replica stops", func(t *testing.T) {
		lossless(t, a, b, athlete)
	})
}

// ingestAthletes sends five minutes of readings of n new athletes to the server at
// addr and returns their ids.
func ingestAthletes(t *testing.T, addr, idPrefix string, n int) []string {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := hydrocastv1.NewHydrocastServiceClient(conn).Ingest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s%02d", idPrefix, i)
		ids = append(ids, id)
		var req hydrocastv1.IngestRequest
		for k := range 10 {
			r := features.NewReading(id, "watch", start.Add(time.Duration(k)*30*time.Second))
			r.Set(features.HeartRate, float64(120+i+k))
			r.Set(features.SkinTemp, 33.5)
			r.Set(features.AmbientTemp, 28)
			r.Set(features.Humidity, 50)
			req.Readings = append(req.Readings, wire.ToProto(&r))
		}
		if err := stream.Send(&req); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// sameAssignments waits until both replicas serve model from both arms of its
// policy, then checks that they assign every athlete to the same version.
func sameAssignments(t *testing.T, a, b *replica, athletes []string, model string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var lastA, lastB map[string]string
	for {
		va, vb := assignments(t, a, athletes, model), assignments(t, b, athletes, model)
		// A replica may swap to the policy halfway through a round: compare only once
		// each has answered two rounds alike, both split over two versions.
		settled := maps.Equal(va, lastA) && maps.Equal(vb, lastB)
		lastA, lastB = va, vb
		if settled && armsSeen(va) == 2 && armsSeen(vb) == 2 {
			for _, id := range athletes {
				if va[id] != vb[id] {
					t.Errorf("athlete %s: replica a serves %s version %s, b version %s",
						id, model, va[id], vb[id])
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the replicas do not split %s between two versions: "+
				"a %v, b %v", model, va, vb)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func assignments(t *testing.T, r *replica, athletes []string, model string) map[string]string {
	t.Helper()
	out := make(map[string]string, len(athletes))
	for _, id := range athletes {
		out[id] = assessAt(t, r.addr, id).GetModelVersions()[model]
	}
	return out
}

func armsSeen(byAthlete map[string]string) int {
	seen := map[string]bool{}
	for _, v := range byAthlete {
		seen[v] = true
	}
	return len(seen)
}

// replicaRedis returns a client of the test Redis, skipping when it is unreachable
// unless under CI.
func replicaRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: replicaRedisAddr})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") == "" {
			t.Skipf("Redis at %s unreachable (set CI to fail instead): %v",
				replicaRedisAddr, err)
		}
		t.Fatalf("Redis at %s unreachable: %v", replicaRedisAddr, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// deleteAthleteKeys deletes the window keys of the athletes whose ids start with
// idPrefix, and only those.
func deleteAthleteKeys(t *testing.T, rdb *redis.Client, idPrefix string) {
	ctx := context.Background()
	match := redisstore.DefaultPrefix + "{" + idPrefix + "*"
	iter := rdb.Scan(ctx, 0, match, 100).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("delete %s: %v", iter.Val(), err)
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s: %v", match, err)
	}
}

// copyRegistryToPostgres creates a fresh schema, dropped when the test ends, copies
// the production version of every model of the local registry in dir into it and
// returns the registry URL the replicas open.
func copyRegistryToPostgres(t *testing.T, dir string) string {
	t.Helper()
	dsn := freshPostgresSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(engine.ArtifactsParam, "file://"+filepath.ToSlash(t.TempDir()))
	u.RawQuery = q.Encode()
	regURL := u.String()

	ctx := registry.WithPrincipal(t.Context(), "replicas-test")
	src, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := engine.OpenURL(ctx, regURL)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	models, err := src.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range models {
		v, err := src.Resolve(ctx, m.Name, "production")
		if err != nil {
			t.Fatal(err)
		}
		req := publishCopy(t, src, v, "copied from the fixture")
		if _, err := dst.Publish(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	return regURL
}

// publishCopy is a request that publishes v's artifact and metadata again and points
// production at the result.
func publishCopy(t *testing.T, src *registry.Registry, v registry.Version,
	description string) registry.PublishRequest {
	t.Helper()
	artifact, err := src.Artifact(t.Context(), v)
	if err != nil {
		t.Fatal(err)
	}
	return registry.PublishRequest{
		Model: v.Model, Description: description, Signature: v.Signature, Tags: v.Tags,
		Card: v.Card, Metrics: v.Metrics, Lineage: v.Lineage, Reference: v.Reference,
		Artifact: artifact,
		Promote:  &registry.Promotion{Alias: "production", Reason: description},
	}
}

// republish publishes the production version of model again as a new version and
// moves production to it, returning the new version number as the server reports it.
func republish(t *testing.T, regURL, model string) string {
	t.Helper()
	ctx := registry.WithPrincipal(t.Context(), "replicas-test")
	reg, err := engine.OpenURL(ctx, regURL)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	v, err := reg.Resolve(ctx, model, "production")
	if err != nil {
		t.Fatal(err)
	}
	nv, err := reg.Publish(ctx, publishCopy(t, reg, v, "moved by the replica test"))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(nv.Number)
}

// freshPostgresSchema creates an empty schema that t drops when it ends and returns a
// DSN whose connections use it. It skips when PostgreSQL is unreachable, unless
// under CI.
func freshPostgresSchema(t *testing.T) string {
	t.Helper()
	dsn := envOr("HYDROCAST_TEST_POSTGRES", replicaPostgresDSN)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL unreachable (set HYDROCAST_TEST_POSTGRES): %v", err)
		}
		t.Fatalf("PostgreSQL unreachable in CI: %v", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))

	schema := "replicas_test_" + randomHex(t, 6)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("PostgreSQL DSN must be a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// replica is a `hydrocast serve` child process.
type replica struct {
	name string
	addr string
	cmd  *exec.Cmd
	log  string // the child's stderr and stdout file

	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // Wait's result, set before exited closes
}

// startReplica starts a serve process on a free loopback port with the Redis feature
// store and the registry at regURL, and waits until it listens. The test's end stops
// it.
func startReplica(t *testing.T, name, regURL string) *replica {
	t.Helper()
	dir := t.TempDir()
	return startProcess(t, name, dir, []string{"--home", dir, "--registry", regURL, "serve",
		"--feature-store", "redis", "--redis-addr", replicaRedisAddr,
		"--listen", "127.0.0.1:0", "--http-listen", "", "--reload-interval", "250ms",
		"--addr-file", filepath.Join(dir, "addr")}, nil)
}

// startIngestWorker starts `hydrocast ingest` on the subscription of the Pub/Sub
// emulator at emulator, writing into the replicas' Redis.
func startIngestWorker(t *testing.T, emulator, subscription string) *replica {
	t.Helper()
	dir := t.TempDir()
	return startProcess(t, "ingest", dir, []string{"--home", dir, "ingest",
		"--pubsub-subscription", subscription, "--feature-store", "redis",
		"--redis-addr", replicaRedisAddr, "--offline-log=false",
		"--health-listen", "127.0.0.1:0", "--addr-file", filepath.Join(dir, "addr")},
		[]string{"PUBSUB_EMULATOR_HOST=" + emulator})
}

// startProcess runs hydrocast with args as a child process, logging to dir, and waits
// until it writes dir/addr. The test's end stops it.
func startProcess(t *testing.T, name, dir string, args, env []string) *replica {
	t.Helper()
	r := &replica{name: name, log: filepath.Join(dir, "stderr"),
		exited: make(chan struct{})}
	encoded, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	r.cmd = exec.Command(os.Args[0], "-test.run=^TestReplicaProcess$")
	r.cmd.Env = append(append(os.Environ(), envReplicaArgs+"="+string(encoded),
		"HYDROCAST_REGISTRY="), env...)
	r.cmd.Stderr, r.cmd.Stdout = logFile, logFile
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() { r.stop(t) })

	// waitForFile learns of an early exit through this channel.
	failed := make(chan error, 1)
	go func() {
		<-r.exited
		failed <- fmt.Errorf("%s exited: %v\n%s", name, r.waitErr, r.stderr())
	}()
	r.addr = waitForFile(t, filepath.Join(dir, "addr"), failed)
	return r
}

// stop asks the replica to shut down and waits for it, killing it after 15 s. It may
// be called more than once.
func (r *replica) stop(t *testing.T) {
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
		t.Errorf("replica %s did not stop within 15 s of SIGTERM", r.name)
	}
}

func (r *replica) stderr() string {
	b, _ := os.ReadFile(r.log)
	return string(b)
}

// assessAt asks the server at addr for the athlete's assessment at its newest reading.
func assessAt(t *testing.T, addr, athlete string) *hydrocastv1.Assessment {
	t.Helper()
	a, err := tryAssess(t, addr, athlete)
	if err != nil {
		t.Fatalf("assess %s at %s: %v", athlete, addr, err)
	}
	return a
}

// tryAssess asks the server at addr for the athlete's assessment at its newest
// reading, returning the error instead of failing.
func tryAssess(t *testing.T, addr, athlete string) (*hydrocastv1.Assessment, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return hydrocastv1.NewHydrocastServiceClient(conn).Assess(ctx,
		&hydrocastv1.AssessRequest{AthleteId: athlete})
}

// readingsTopic starts Pub/Sub's fake server with a readings topic and an ordered
// subscription, and returns its address, the subscription's name and a function that
// publishes one reading keyed by athlete, as binary protocol buffers, as the devices'
// gateway would.
func readingsTopic(t *testing.T) (emulator, subscription string,
	publish func(athlete string, r *hydrocastv1.Reading)) {
	t.Helper()
	const topic = "projects/replicas/topics/readings"
	subscription = "projects/replicas/subscriptions/ingest"
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client, err := ps.NewClient(t.Context(), "replicas", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if _, err := client.TopicAdminClient.CreateTopic(t.Context(),
		&pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(t.Context(),
		&pubsubpb.Subscription{Name: subscription, Topic: topic,
			EnableMessageOrdering: true, AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	return srv.Addr, subscription, func(athlete string, r *hydrocastv1.Reading) {
		data, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		srv.PublishOrdered(topic, data,
			map[string]string{pubsub.AttrContentType: pubsub.ContentProto}, athlete)
	}
}

// waitForVersion polls the replica until it serves version of model, failing once
// the deadline passes.
func waitForVersion(t *testing.T, r *replica, athlete, model, version string,
	deadline time.Time) {
	t.Helper()
	for {
		got := assessAt(t, r.addr, athlete).GetModelVersions()[model]
		if got == version {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s still serves %s version %s, want %s", r.name, model, got,
				version)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// retryingServiceConfig balances calls over every address and retries a call that
// finds its replica gone on another one. Assess is idempotent, so retrying it is safe.
const retryingServiceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{"service": "hydrocast.v1.HydrocastService"}],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.05s",
      "maxBackoff": "0.5s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}`

// lossless sends Assess calls from several callers to both replicas through one
// retrying client and stops b part way: every call must succeed, both replicas must
// have answered some, and a all of those made once b is gone.
func lossless(t *testing.T, a, b *replica, athlete string) {
	const callers, perCaller = 4, 60
	res := manual.NewBuilderWithScheme("replicas")
	res.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: a.addr},
		{Addr: b.addr}}})
	conn, err := grpc.NewClient(res.Scheme()+":///hydrocast", grpc.WithResolvers(res),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(retryingServiceConfig))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := hydrocastv1.NewHydrocastServiceClient(conn)

	var (
		calls  atomic.Int64
		mu     sync.Mutex
		byAddr = map[string]int{}
		failed []error
		wg     sync.WaitGroup
	)
	stopOnce := sync.OnceFunc(func() { b.stop(t) })
	for range callers {
		wg.Go(func() {
			for range perCaller {
				if calls.Add(1) == callers*perCaller/3 {
					go stopOnce()
				}
				var p peer.Peer
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				_, err := api.Assess(ctx, &hydrocastv1.AssessRequest{AthleteId: athlete},
					grpc.Peer(&p))
				cancel()
				mu.Lock()
				if err != nil {
					failed = append(failed, err)
				} else if p.Addr != nil {
					byAddr[p.Addr.String()]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stopOnce()

	if len(failed) > 0 {
		t.Fatalf("%d of %d calls failed despite retries, the first: %v", len(failed),
			callers*perCaller, failed[0])
	}
	if byAddr[b.addr] == 0 || byAddr[a.addr] == 0 {
		t.Errorf("answers by replica %v: both should have served before the stop", byAddr)
	}

	// b has exited: every further call is a's, and none fails.
	for i := range 20 {
		var p peer.Peer
		_, err := api.Assess(t.Context(), &hydrocastv1.AssessRequest{AthleteId: athlete},
			grpc.Peer(&p))
		if err != nil {
			t.Fatalf("call %d after the stop: %v", i, err)
		}
		if p.Addr == nil || p.Addr.String() != a.addr {
			t.Fatalf("call %d after the stop answered by %v, want %s", i, p.Addr, a.addr)
		}
	}
}
