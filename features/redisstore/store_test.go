package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/storetest"
)

// redisAddr is where the tests find Redis.
const redisAddr = "127.0.0.1:6379"

// t0 is the minute-aligned instant the tests' readings are built around.
var t0 = time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)

// redisClient returns a client of the test Redis, skipping the test when Redis is
// unreachable, unless under CI, where that fails it.
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") == "" {
			t.Skipf("Redis at %s unreachable (set CI to fail instead): %v", redisAddr, err)
		}
		t.Fatalf("Redis at %s unreachable: %v", redisAddr, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// newTestStore returns a store under a prefix of its own, whose keys are deleted
// when the test ends.
func newTestStore(t testing.TB, rdb redis.UniversalClient, tune func(*Options)) *Store {
	t.Helper()
	o := DefaultOptions()
	o.Prefix = fmt.Sprintf("hydrocast-test:%016x:", rand.Uint64())
	if tune != nil {
		tune(&o)
	}
	s, err := New(rdb, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePrefix(t, rdb, o.Prefix) })
	return s
}

func deletePrefix(t testing.TB, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan test keys: %v", err)
	}
	for chunk := range slices.Chunk(keys, 500) {
		rdb.Del(ctx, chunk...)
	}
}

func hr(athlete string, i int, bpm float64) features.Reading {
	r := features.NewReading(athlete, "watch", t0.Add(time.Duration(i)*time.Second))
	r.Set(features.HeartRate, bpm)
	return r
}

func TestConformance(t *testing.T) {
	rdb := redisClient(t)
	storetest.Run(t, func(t *testing.T) features.OnlineStore {
		return newTestStore(t, rdb, nil)
	})
}

// op is one write of a scripted workload.
type op struct {
	batch   []features.Reading // one reading: Ingest; more: IngestBatch
	deleted string
}

// workload returns a deterministic mix of writes: readings in and out of order,
// duplicates, conflicting versions, invalid readings, batches and deletions.
func workload(seed uint64, n int) []op {
	rng := rand.New(rand.NewPCG(seed, 2))
	athletes := []string{"a", "b", "c", "d"}
	clock := map[string]int{}
	var last features.Reading
	reading := func() features.Reading {
		id := athletes[rng.IntN(len(athletes))]
		clock[id] += 5 + rng.IntN(40)
		r := hr(id, clock[id]-rng.IntN(200), 60+rng.Float64()*150)
		if rng.IntN(3) == 0 {
			r.Set(features.AmbientTemp, 20+rng.Float64()*15)
			r.Set(features.Humidity, 30+rng.Float64()*60)
			r.Set(features.FluidIntake, rng.Float64()*100)
		}
		switch k := rng.IntN(40); {
		case k == 0:
			r.Set(features.HeartRate, 400)
		case k == 1 && last.AthleteID != "":
			r = last
		case k == 2 && last.AthleteID != "":
			r = last
			r.Set(features.HeartRate, 99)
		}
		last = r
		return r
	}
	var ops []op
	for range n {
		switch k := rng.IntN(100); {
		case k < 8:
			b := make([]features.Reading, 2+rng.IntN(15))
			for j := range b {
				b[j] = reading()
			}
			ops = append(ops, op{batch: b})
		case k < 9:
			ops = append(ops, op{deleted: athletes[rng.IntN(len(athletes))]})
		default:
			ops = append(ops, op{batch: []features.Reading{reading()}})
		}
	}
	return ops
}

func TestMatchesMemoryStore(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	s := newTestStore(t, rdb, func(o *Options) { o.QuarantineCap = 3 })
	mem := features.NewStore(&features.Options{Window: features.DefaultWindowOptions(),
		QuarantineCap: 3})

	for i, o := range workload(11, 600) {
		switch {
		case o.deleted != "":
			if err := s.Delete(ctx, o.deleted); err != nil {
				t.Fatal(err)
			}
			mem.Delete(ctx, o.deleted)
		case len(o.batch) == 1:
			got, gerr := s.Ingest(ctx, o.batch[0])
			want, werr := mem.Ingest(ctx, o.batch[0])
			if got != want || (gerr == nil) != (werr == nil) {
				t.Fatalf("op %d: Ingest = %v, %v; memory %v, %v", i, got, gerr, want, werr)
			}
		default:
			got, err := s.IngestBatch(ctx, o.batch)
			want, _ := mem.IngestBatch(ctx, o.batch)
			if err != nil || got != want {
				t.Fatalf("op %d: IngestBatch = %+v, %v; memory %+v", i, got, err, want)
			}
		}
	}
	assertSameStores(t, s, mem)

	// The workload reached every rule, or the comparison proves little.
	c, _ := mem.Counts(ctx)
	if c.Duplicate == 0 || c.Replaced == 0 || c.Late == 0 || c.Rejected == 0 {
		t.Errorf("workload missed a rule: %+v", c)
	}
}

// assertSameStores compares what two stores report: athletes, counts, quarantine
// and every athlete's vector at instants around its newest reading.
func assertSameStores(t *testing.T, got, want features.OnlineStore) {
	t.Helper()
	ctx := context.Background()
	gi, err := got.Athletes(ctx)
	wi, _ := want.Athletes(ctx)
	if err != nil || !slices.Equal(gi, wi) {
		t.Fatalf("athletes %v, %v; want %v", gi, err, wi)
	}
	gc, err := got.Counts(ctx)
	wc, _ := want.Counts(ctx)
	if err != nil || gc != wc {
		t.Errorf("counts %+v, %v; want %+v", gc, err, wc)
	}
	gq, err := got.Quarantine(ctx)
	wq, _ := want.Quarantine(ctx)
	if err != nil || !slices.Equal(gq, wq) {
		t.Errorf("quarantine %+v, %v;\nwant %+v", gq, err, wq)
	}
	for _, id := range wi {
		newest, _ := want.Newest(ctx, id)
		if g, err := got.Newest(ctx, id); err != nil || !g.Equal(newest) {
			t.Errorf("%s: newest %v, %v; want %v", id, g, err, newest)
		}
		for _, d := range []time.Duration{-5 * time.Minute, 0, 3 * time.Minute} {
			g, w := features.NewVector(), features.NewVector()
			got.Vector(ctx, id, newest.Add(d), g)
			want.Vector(ctx, id, newest.Add(d), w)
			assertSameVector(t, g, w)
		}
	}
}

// assertSameVector compares vectors bit for bit, NaN matching NaN.
func assertSameVector(t *testing.T, got, want *features.Vector) {
	t.Helper()
	names := features.CurrentSchema().Names()
	for i := range want.Values {
		g, w := got.Values[i], want.Values[i]
		same := g == w || (math.IsNaN(g) && math.IsNaN(w))
		if !same || got.Status[i] != want.Status[i] ||
			got.EventUnixMilli[i] != want.EventUnixMilli[i] {
			t.Errorf("%s %s: %v (%v), want %v (%v)", got.AthleteID, names[i], g,
				got.Status[i], w, want.Status[i])
		}
	}
	if !got.FreshestReading.Equal(want.FreshestReading) || got.AthleteID != want.AthleteID {
		t.Errorf("vector %s freshest %v, want %s %v", got.AthleteID, got.FreshestReading,
			want.AthleteID, want.FreshestReading)
	}
}

func TestReplicasDoNotLoseUpdates(t *testing.T) {
	const replicas, perReplica = 4, 150
	rdb := redisClient(t)
	first := newTestStore(t, rdb, nil)
	ctx := context.Background()

	// Each replica, with a client of its own, writes the same athletes from a
	// source of its own; every reading is within the lateness of every other, so
	// all are applied whatever the interleaving.
	var wg sync.WaitGroup
	for rep := range replicas {
		c := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer c.Close()
		s, _ := New(c, &first.opts)
		wg.Go(func() {
			for i := range perReplica {
				r := hr(fmt.Sprintf("athlete-%d", i%3), i/3, 120)
				r.Source = fmt.Sprintf("replica-%d", rep)
				if _, err := s.Ingest(ctx, r); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	c, err := first.Counts(ctx)
	if err != nil || c.Applied != replicas*perReplica || c.Total() != c.Applied {
		t.Fatalf("counts %+v, %v; want %d applied", c, err, replicas*perReplica)
	}
	v := features.NewVector()
	for a := range 3 {
		id := fmt.Sprintf("athlete-%d", a)
		newest, _ := first.Newest(ctx, id)
		first.Vector(ctx, id, newest, v)
		if n, _, _ := v.Get("heart_rate_bpm_count_60m"); n != replicas*perReplica/3 {
			t.Errorf("%s holds %v readings, want %d", id, n, replicas*perReplica/3)
		}
	}
}

func TestIdleAthletesExpire(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	s := newTestStore(t, rdb, func(o *Options) { o.IdleTTL = 300 * time.Millisecond })
	if _, err := s.Ingest(ctx, hr("a1", 0, 120)); err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.PTTL(ctx, s.windowKey("a1")).Result()
	if err != nil || ttl <= 0 || ttl > 300*time.Millisecond {
		t.Fatalf("window TTL %v, %v; want within 300ms", ttl, err)
	}

	time.Sleep(400 * time.Millisecond)
	if ids, _ := s.Athletes(ctx); len(ids) != 0 {
		t.Errorf("athletes %v after their TTL", ids)
	}
	err = s.Vector(ctx, "a1", t0, features.NewVector())
	if !errors.Is(err, features.ErrUnknownAthlete) {
		t.Errorf("Vector after the TTL: %v, want ErrUnknownAthlete", err)
	}
}

func TestQuarantineOverflow(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	s := newTestStore(t, rdb, func(o *Options) { o.QuarantineCap = 2 })
	mem := features.NewStore(&features.Options{QuarantineCap: 2})
	for i := range 5 {
		r := hr(fmt.Sprintf("a%d", i), i, 999)
		s.Ingest(ctx, r)
		mem.Ingest(ctx, r)
	}
	got, err := s.Quarantine(ctx)
	want, _ := mem.Quarantine(ctx)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("quarantine %+v, %v;\nwant %+v", got, err, want)
	}
	if len(got) != 3 || !got[0].Overflow || got[0].Count != 3 {
		t.Errorf("quarantine %+v, want two named entries and an overflow of 3", got)
	}
}

func TestCorruptWindowValue(t *testing.T) {
	rdb := redisClient(t)
	ctx := context.Background()
	s := newTestStore(t, rdb, nil)
	cases := []struct {
		name  string
		value string
	}{
		{"shorter than a token", "abc"},
		{"garbage state", "12345678\x01garbage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rdb.Set(ctx, s.windowKey("a1"), c.value, 0)
			v := features.NewVector()
			err := s.Vector(ctx, "a1", t0, v)
			if !errors.Is(err, features.ErrStateCorrupt) {
				t.Fatalf("Vector: %v, want ErrStateCorrupt", err)
			}
			if _, st, _ := v.Get("heart_rate_bpm_last"); st != features.StatusMissing ||
				v.AthleteID != "a1" {
				t.Errorf("vector of a corrupt window: %s %v, want a1 missing", v.AthleteID, st)
			}
			if _, err := s.Ingest(ctx, hr("a1", 0, 120)); !errors.Is(err,
				features.ErrStateCorrupt) {
				t.Errorf("Ingest onto a corrupt window: %v, want ErrStateCorrupt", err)
			}
		})
	}
}

func TestScriptLoadedWhenMissing(t *testing.T) {
	rdb := redisClient(t)
	s := newTestStore(t, rdb, nil)
	// A script Redis has never seen meets NOSCRIPT first, as after a restart.
	fresh := redis.NewScript(fmt.Sprintf("-- %x\nreturn tonumber(ARGV[1]) * 2", rand.Uint64()))
	got, err := s.runScript(context.Background(), fresh, 3, func(i int) ([]string, []any) {
		return []string{s.rejectedKey}, []any{i + 1}
	})
	if err != nil || !slices.Equal(got, []int64{2, 4, 6}) {
		t.Fatalf("runScript = %v, %v; want [2 4 6]", got, err)
	}
}

func TestNewRejectsBraces(t *testing.T) {
	if _, err := New(nil, &Options{Prefix: "a{b}:"}); err == nil {
		t.Error("New accepted a prefix with braces")
	}
}

func TestEntryNames(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want features.QuarantineEntry
	}{
		{"named", namedEntry("a\x00b", "", "heart_rate_bpm"),
			features.QuarantineEntry{AthleteID: "a\x00b", Field: "heart_rate_bpm"}},
		{"empty athlete", namedEntry("", "watch", "athlete_id"),
			features.QuarantineEntry{Source: "watch", Field: "athlete_id"}},
		{"overflow", overflowEntry("values"),
			features.QuarantineEntry{Field: "values", Overflow: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e features.QuarantineEntry
			if err := parseEntry(string(c.raw), &e); err != nil || e != c.want {
				t.Errorf("parseEntry = %+v, %v; want %+v", e, err, c.want)
			}
		})
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add(string(namedEntry("athlete", "watch", "heart_rate_bpm")))
	f.Add(string(overflowEntry("values")))
	f.Add(string(lastValue(t0, "too high")))
	f.Fuzz(func(t *testing.T, name string) {
		var e features.QuarantineEntry
		if err := parseEntry(name, &e); err == nil {
			again := namedEntry(e.AthleteID, e.Source, e.Field)
			if e.Overflow {
				again = overflowEntry(e.Field)
			}
			var e2 features.QuarantineEntry
			if err := parseEntry(string(again), &e2); err != nil || e2 != e {
				t.Fatalf("entry %+v does not round-trip: %+v, %v", e, e2, err)
			}
		}
		var e3 features.QuarantineEntry
		if err := parseLast(name, &e3); err == nil {
			var e4 features.QuarantineEntry
			err := parseLast(string(lastValue(e3.LastTime, e3.LastReason)), &e4)
			if err != nil || !e4.LastTime.Equal(e3.LastTime) || e4.LastReason != e3.LastReason {
				t.Fatalf("last value %v %q does not round-trip", e3.LastTime, e3.LastReason)
			}
		}
	})
}
