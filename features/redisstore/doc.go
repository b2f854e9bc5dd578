// Package redisstore is the features.OnlineStore that several serving replicas
// share: athletes' windows live in Redis, and every replica reads and updates them
// with the same rules as the in-memory store, so that a vector does not depend on
// the replica asked.
//
// # Layout
//
// With the store's key prefix P:
//
//	P{<athlete>}:w          string: 8-byte version token, then the athlete's window
//	                        state (features.AthleteWindow.AppendBinary); expires
//	                        after Options.IdleTTL without a write
//	P{meta}:quarantine      hash: quarantine entry → count
//	P{meta}:quarantine_last hash: quarantine entry → last time and reason
//	P{meta}:rejected        integer: readings rejected, ever
//	P{meta}:deleted         hash: counts of deleted athletes' windows, by outcome
//
// # Why this layout
//
// The lookup goal is one athlete's vector within 1 ms at the 99th percentile. A
// window is an hour of readings plus the running state of the session (the core
// temperature filter, the fluid total, the PSI baseline), which folds in readings
// long evicted; so the vector cannot be rebuilt from the last hour of readings
// alone, and the state has to be kept. Keeping it whole, serialised, makes a
// lookup one GET (about 6 KB for an hour of 30-second readings) and a decode of a
// few microseconds, and computes the vector with the very code the in-memory store
// runs, which is what makes the two agree exactly.
//
// An update reads the state, applies the readings in Go, and writes the new state
// back with a Lua script that succeeds only if the version token is still the one
// read (compare-and-set); on a conflict it starts over. Readings of one athlete
// mostly come through one ingest path (the Pub/Sub ordering key is the athlete), so
// conflicts are rare, and an update costs two round trips. IngestBatch pipelines
// both round trips across all athletes of the batch. Tokens are random, not
// counters, so that an update begun before a Delete cannot overwrite the window
// created after it.
//
// The hash tag {<athlete>} puts each athlete's key in its own Redis Cluster slot,
// spreading athletes over the shards; the few keys of the quarantine and the
// totals share the tag {meta}, so that the quarantine script, which checks the
// capacity and counts atomically, touches one slot. Rejections are rare, so that
// slot is not hot. Athletes, Counts and Quarantine are administrative calls that
// scan; they are not meant for the request path.
//
// The price is write amplification: every update rewrites the athlete's whole
// state, about 6 KB at the nominal cadence, more for an athlete whose devices
// report every second. IngestBatch folds all of an athlete's readings in a batch
// into one rewrite, so ingest paths should batch per athlete where they can.
//
// Idle athletes expire (Options.IdleTTL), which the in-memory store does not do:
// an expired athlete is forgotten as if deleted, including its counts.
//
// Build the client with ContextTimeoutEnabled, so that a caller's deadline bounds
// a lookup even when Redis stops answering rather than refusing (see the fallback
// package, which serves the last known vectors meanwhile).
package redisstore
