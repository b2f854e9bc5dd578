package beam

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/redis/go-redis/v9"

	"github.com/hydrocast/hydrocast/features"
)

const testRedisAddr = "127.0.0.1:6379"

func TestWriteVectorsToRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testRedisAddr})
	defer rdb.Close()
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("Redis at %s unreachable (set CI to fail instead): %v", testRedisAddr, err)
		}
		t.Fatalf("Redis at %s unreachable: %v", testRedisAddr, err)
	}
	prefix := fmt.Sprintf("hydrocast-test:%016x:", rand.Uint64())
	key := prefix + "{a-1}"
	t.Cleanup(func() { rdb.Del(context.Background(), key, key+":as_of") })

	// Two vectors of one athlete; the older one must not replace the newer, whatever
	// order the sink sees them in.
	w := features.NewAthleteWindow("a-1", features.DefaultWindowOptions())
	r := features.NewReading("a-1", "watch", t0)
	r.Set(features.HeartRate, 140)
	w.Add(r)
	v := features.NewVector()
	w.Vector(t0.Add(time.Minute), v)
	older := vectorRow(v)
	w.Vector(t0.Add(2*time.Minute), v)
	newer := vectorRow(v)

	p, s := beam.NewPipelineWithRoot()
	WriteVectorsToRedis(s, RedisVectorOptions{Addr: testRedisAddr, Prefix: prefix},
		beam.CreateList(s, []VectorRow{newer, older}))
	if _, err := prism.Execute(context.Background(), p); err != nil {
		t.Fatalf("run pipeline on prism: %v", err)
	}

	data, err := rdb.Get(t.Context(), key).Bytes()
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	var got VectorJSON
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("stored vector is not JSON: %v", err)
	}
	if !got.AsOf.Equal(t0.Add(2*time.Minute)) || got.FreshestReading == nil ||
		!got.FreshestReading.Equal(t0) || got.SchemaVersion != features.SchemaVersion {
		t.Errorf("stored vector as of %v, freshest %v, schema %d; want the newer one",
			got.AsOf, got.FreshestReading, got.SchemaVersion)
	}
	if len(got.Status) != features.CurrentSchema().Len() {
		t.Errorf("%d statuses, want one per feature", len(got.Status))
	}
	if ttl := rdb.TTL(t.Context(), key).Val(); ttl <= 0 || ttl > 2*time.Hour {
		t.Errorf("TTL %v, want the default two hours", ttl)
	}
}

func TestVectorJSONRefusesOtherSchema(t *testing.T) {
	_, err := VectorRow{AthleteID: "a", SchemaVersion: 99}.ToJSON()
	if err == nil {
		t.Fatal("a vector of schema 99 was accepted")
	}
}
