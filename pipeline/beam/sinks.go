package beam

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/redis/go-redis/v9"

	"github.com/hydrocast/hydrocast/features"
)

// DefaultVectorPrefix starts the Redis keys the vector sink writes.
const DefaultVectorPrefix = "hydrocast:vectors:"

// RedisVectorOptions says where WriteVectorsToRedis writes.
type RedisVectorOptions struct {
	// Addr is the Redis address, host:port.
	Addr string

	// Prefix starts every key; empty means DefaultVectorPrefix. The key of an
	// athlete's latest vector is Prefix + "{" + athlete + "}", the hash tag keeping
	// it beside the athlete's window key in Redis Cluster.
	Prefix string

	// TTLSeconds is how long a vector stays after it was written; zero means two
	// hours, the online store's idle TTL in the prod overlay.
	TTLSeconds int64
}

// WriteVectorsToRedis writes each athlete's newest vector as JSON (see VectorJSON)
// under the athlete's key. A vector older than the one stored is not written, so
// retried bundles and out-of-order delivery never move an athlete back in time.
func WriteVectorsToRedis(s beam.Scope, opts RedisVectorOptions, vectors beam.PCollection) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultVectorPrefix
	}
	if opts.TTLSeconds <= 0 {
		opts.TTLSeconds = int64((2 * time.Hour).Seconds())
	}
	beam.ParDo0(s.Scope("hydrocast.WriteVectorsToRedis"), &redisVectorFn{Addr: opts.Addr,
		Prefix: opts.Prefix, TTLSeconds: opts.TTLSeconds}, vectors)
}

// VectorJSON is a vector as the Redis sink stores it: features by name, a missing
// one absent.
type VectorJSON struct {
	AthleteID       string             `json:"athlete_id"`
	SchemaVersion   int64              `json:"schema_version"`
	AsOf            time.Time          `json:"as_of"`
	FreshestReading *time.Time         `json:"freshest_reading,omitempty"`
	Features        map[string]float64 `json:"features"`
	Status          map[string]string  `json:"status"`
}

// ToJSON returns the vector in the form the Redis sink stores. It fails on a vector
// of another schema version than this build computes.
func (v VectorRow) ToJSON() (VectorJSON, error) {
	sc := features.CurrentSchema()
	if int(v.SchemaVersion) != sc.Version() || len(v.Values) != sc.Len() ||
		len(v.Status) != sc.Len() {
		return VectorJSON{}, fmt.Errorf("vector of schema %d with %d values: this build "+
			"computes schema %d with %d features", v.SchemaVersion, len(v.Values),
			sc.Version(), sc.Len())
	}
	out := VectorJSON{AthleteID: v.AthleteID, SchemaVersion: v.SchemaVersion,
		AsOf:     time.UnixMilli(v.AsOfUnixMilli).UTC(),
		Features: make(map[string]float64), Status: make(map[string]string)}
	if v.FreshestUnixMilli != 0 {
		t := time.UnixMilli(v.FreshestUnixMilli).UTC()
		out.FreshestReading = &t
	}
	for i, name := range sc.Names() {
		st := features.Status(v.Status[i])
		out.Status[name] = st.String()
		if st != features.StatusMissing && !math.IsNaN(v.Values[i]) &&
			!math.IsInf(v.Values[i], 0) {
			out.Features[name] = v.Values[i]
		}
	}
	return out, nil
}

// newerThanStored sets KEYS[1] to ARGV[2] for ARGV[3] seconds unless the stored value
// is of a later instant; the instant, Unix milliseconds, is ARGV[1] and is kept in
// KEYS[1]'s companion key KEYS[2].
var newerThanStored = redis.NewScript(`
local stored = tonumber(redis.call('GET', KEYS[2]) or '0')
if stored > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
return 1
`)

// redisVectorFn is the DoFn of WriteVectorsToRedis; Beam serialises its exported
// fields.
type redisVectorFn struct {
	Addr       string
	Prefix     string
	TTLSeconds int64

	rdb *redis.Client
}

func (f *redisVectorFn) Setup() {
	f.rdb = redis.NewClient(&redis.Options{Addr: f.Addr, ContextTimeoutEnabled: true})
}

func (f *redisVectorFn) Teardown() error {
	return f.rdb.Close()
}

func (f *redisVectorFn) ProcessElement(ctx context.Context, v VectorRow) error {
	doc, err := v.ToJSON()
	if err != nil {
		return err
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode vector of %s: %w", v.AthleteID, err)
	}
	key := f.Prefix + "{" + v.AthleteID + "}"
	err = newerThanStored.Run(ctx, f.rdb, []string{key, key + ":as_of"},
		v.AsOfUnixMilli, data, f.TTLSeconds).Err()
	if err != nil {
		return fmt.Errorf("write vector of %s to redis: %w", v.AthleteID, err)
	}
	return nil
}

func init() {
	register.DoFn2x1[context.Context, VectorRow, error](&redisVectorFn{})
}
