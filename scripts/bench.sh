#!/usr/bin/env bash
# Runs the benchmarks behind the goals of docs/bench.yaml and prints the table of
# figures, goals, same-run references and ratios (scripts/benchtable). Raw results go to
# var/bench/: go/*.txt (go test -bench output), load/*.json (ghz reports),
# the servers' logs (serve*.log), table.txt and bench.json. Takes some 5 to 10 minutes on 2 cores.
#
# Go benchmarks and load tests both run in rounds: each round runs every benchmark,
# or every load test, once, so that a figure and its reference are measured close in
# time and can be compared round by round. The load tests run ghz against `hydrocast
# serve` on a loopback port; each is bounded in time, and so in count.
#
# Environment: BENCH_COUNT (Go benchmark rounds, default 5), BENCH_ROUNDS (load-test
# rounds, default 3), BENCH_RATE_SECONDS (length of a fixed-rate load test, default 10),
# BENCH_MAX_SECONDS (length of a maximum-throughput test, default 5), GHZ (a ghz
# binary to use instead of building v0.93.0 into .cache/).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly GHZ_VERSION=v0.93.0
count=${BENCH_COUNT:-5}
rounds=${BENCH_ROUNDS:-3}
rate_seconds=${BENCH_RATE_SECONDS:-10}
max_seconds=${BENCH_MAX_SECONDS:-5}

out=var/bench
home=$out/home
bin=bin/hydrocast
mkdir -p "$out"
rm -rf "$out/go" "$out/load"
mkdir -p "$out/go" "$out/load"

say() { printf '== %s\n' "$*" >&2; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
notes=("load average at the start: $load_start")
notes+=("$count rounds of Go benchmarks; $rounds load-test rounds of ${rate_seconds}s at a \
fixed rate and ${max_seconds}s at full speed")

# gobench runs the benchmarks matching $2 in package $1, with the test binary flags
# that follow, into go/<package>.txt. It builds the test binary once and runs it $count
# times, each run going through every benchmark once and marked "round: N", so that
# a benchmark and its reference are measured seconds apart, as the load tests are. A
# package that fails to build or run leaves its figures unmeasured.
gobench() {
	local pkg=$1 pattern=$2
	shift 2
	local name
	# GOBENCH_TAG names a second file for the same package (a run with other flags).
	name=$(echo "$pkg" | tr / _)${GOBENCH_TAG:+.$GOBENCH_TAG}
	local file="$out/go/$name.txt" test="$PWD/$out/go/$name.test"
	say "go test -bench '$pattern' ./$pkg $* ($count rounds)"
	if ! go test -c -o "$test" "./$pkg" >"$file" 2>&1; then
		say "benchmarks of $pkg do not build (see $file)"
		return
	fi
	for r in $(seq 1 "$count"); do
		echo "round: $r" >>"$file"
		# Run from the package's folder, as go test does, for its testdata.
		if ! (cd "$pkg" && "$test" -test.run '^$' -test.bench "$pattern" -test.benchmem \
			-test.count 1 "$@") >>"$file" 2>&1; then
			say "benchmarks of $pkg failed in round $r (see $file)"
		fi
	done
	rm -f "$test"
	grep -E '^Benchmark' "$file" >&2 || true
}

# Per core: the feature store's single-goroutine benchmarks run on one P, GC included.
gobench features '^Benchmark(StoreIngest|CopyReadings|StoreVector|MemoryPerAthlete)$' \
	-test.cpu 1
gobench inference '^Benchmark(GRPCIngest|IngestReadings)$/^batch=100$'
# Each run writes a 200,000-row table first; a few scans of it are enough.
gobench features/offline '^BenchmarkScan$' -test.benchtime 5x
# Needs Redis on 127.0.0.1:6379; without it the benchmark skips and the row says so.
gobench features/redisstore '^BenchmarkVector$'
# One fit of the sweat model on a million rows takes most of a minute: once a round. The
# training-set read writes its 200,000-row file first, then reads it five times an op.
gobench training '^Benchmark(FitSweat1M|ParquetTrainingBatches)$' -test.benchtime 1x
# Streaming ten million rows through training's four passes takes over a minute: in
# one round only.
GOBENCH_TAG=stream count=1 gobench training '^BenchmarkStreamSweat10M$' -test.benchtime 1x

# --- load tests -----------------------------------------------------------------------

ghz=${GHZ:-.cache/ghz/$GHZ_VERSION/ghz}
if [ ! -x "$ghz" ] && [ -z "${GHZ:-}" ]; then
	say "building ghz $GHZ_VERSION into .cache/ghz (once)"
	# go install with a version builds ghz with its own go.mod, apart from this module.
	GOBIN="$PWD/.cache/ghz/$GHZ_VERSION" go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION" ||
		say "could not build ghz: the load-test figures stay unmeasured"
fi

hc() { "$bin" --home "$home" "$@"; }

# prepare_models leaves production models in the bench registry: trained ones when the
# train command exists (kept from an earlier run), linear stand-ins otherwise.
prepare_models() {
	go build -o "$out/benchprep" ./scripts/benchprep || return 1
	local state help
	state=$("$out/benchprep" models --home "$home") || return 1
	# A train command without a --data flag is a placeholder.
	help=$(hc train --help 2>&1 || true)
	if [ "$state" != trained ] && [[ $help == *--data* ]]; then
		say "training models on a small simulated cohort (once)"
		rm -rf "$home"
		if ! { hc simulate --athletes 20 --seed 7 --out "$home/cohort" &&
			timeout 600 "$bin" --home "$home" train --data "$home/cohort" \
				--publish-alias production; } >"$out/train.log" 2>&1; then
			say "training failed (see $out/train.log): using linear stand-ins"
		fi
	fi
	state=$("$out/benchprep" models --home "$home" --stand-ins) || return 1
	notes+=("models served: $state")
}

servers=()
stop_servers() {
	local pid
	for pid in "${servers[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	servers=()
}
trap stop_servers EXIT

# start_server NAME ARGS... starts hydrocast serve with the extra flags ARGS on a free
# loopback port, logging to NAME.log, and sets addr.
start_server() {
	local name=$1
	shift
	local addr_file="$out/$name.addr" pid
	rm -f "$addr_file"
	# Started directly, not through hc: $! must be the server's own process, which a
	# function run in the background would not be.
	"$bin" --home "$home" serve --listen 127.0.0.1:0 --http-listen "" \
		--addr-file "$addr_file" --log-level warn "$@" >"$out/$name.log" 2>&1 &
	pid=$!
	servers+=("$pid")
	for _ in $(seq 1 300); do
		[ -s "$addr_file" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$out/$name.log" >&2; return 1; }
		sleep 0.1
	done
	[ -s "$addr_file" ] || { say "server $name did not start in 30 s"; return 1; }
	addr=$(cat "$addr_file")
}

# The batching load tests compare servers with dynamic batching on and off, at 256
# callers, on two models: the served sweat-rate model, whose run is a small part of a
# call's cost, and a compute-bound network of the same inputs and outputs (two hidden
# layers of heavy_width units, `benchprep heavy`) in a registry of its own. The servers
# started for them serve no features (they answer only ModelInfer here), so that they
# share nothing with the first but the registry.
readonly batch_flags=(--batch-max-size 64 --batch-max-delay 250us)

# last_level_cache_kib prints the size of the CPU's largest cache in KiB, 0 if unknown.
last_level_cache_kib() {
	local f s kib=0
	for f in /sys/devices/system/cpu/cpu0/cache/index*/size; do
		s=$(cat "$f" 2>/dev/null) || continue
		s=${s%K}
		[[ $s =~ ^[0-9]+$ ]] && ((s > kib)) && kib=$s
	done
	echo "$kib"
}

# One row through a wide layer reads each of its weights once; a batch of 64 reads
# them once for all 64 rows, which is the saving batching exists for. Where the
# weights fit in the last-level cache, a row reads them from there and the saving
# shrinks to the arithmetic's, so the hidden layers are made wide enough for the
# middle layer's weights (4 bytes each) to exceed that cache: 2,048 units (16 MiB) at
# least, 4,096 (64 MiB) for caches of 16 to 64 MiB, and 8,192 at most.
cache_kib=$(last_level_cache_kib)
heavy_width=2048
while ((heavy_width < 8192 && heavy_width * heavy_width * 4 / 1024 <= cache_kib)); do
	heavy_width=$((heavy_width * 2))
done
readonly heavy_width
heavy_home=$out/home-heavy
batch_addr=
heavy_addr=
heavy_batch_addr=

# prepare_heavy copies the bench registry into heavy_home and publishes the
# compute-bound network there as the production sweat-rate version.
prepare_heavy() {
	rm -rf "$heavy_home"
	mkdir -p "$heavy_home"
	cp -r "$home/registry" "$heavy_home/" &&
		"$out/benchprep" heavy --home "$heavy_home" --width "$heavy_width" >/dev/null
}

# start_batching_servers starts the servers of the batching figures, when serve has
# the flags, and sets batch_addr, heavy_addr and heavy_batch_addr.
start_batching_servers() {
	local help main=$addr
	help=$("$bin" serve --help 2>&1 || true)
	if [[ $help != *--batch-max-size* ]]; then
		notes+=("dynamic batching: serve has no --batch-max-size flag yet")
		return 0
	fi
	notes+=("dynamic batching: ${batch_flags[*]}")
	if start_server serve-batching --feature-store memory "${batch_flags[@]}"; then
		batch_addr=$addr
	else
		say "the batching server did not start: its figure stays unmeasured"
	fi
	if prepare_heavy; then
		notes+=("compute-bound model: sweat-rate inputs and outputs, two hidden layers of \
$heavy_width units (largest CPU cache: $((cache_kib / 1024)) MiB)")
		if home=$heavy_home start_server serve-heavy --feature-store memory; then
			heavy_addr=$addr
		fi
		if home=$heavy_home start_server serve-heavy-batching --feature-store memory \
			"${batch_flags[@]}"; then
			heavy_batch_addr=$addr
		fi
	else
		say "could not publish the compute-bound model: its figure stays unmeasured"
	fi
	addr=$main
}

# load NAME ROUND CALL ARGS... runs one ghz load test into load/NAME.ROUND.json,
# against $target when set, else $addr.
load() {
	local name=$1 round=$2 call=$3
	shift 3
	if ! "$ghz" --insecure --call "$call" "$@" -O json -o "$out/load/$name.$round.json" \
		"${target:-$addr}"; then
		say "load test $name round $round failed"
		rm -f "$out/load/$name.$round.json"
	fi
}

run_load_tests() {
	local rate=1000
	local check=grpc.health.v1.Health.Check
	local infer=inference.GRPCInferenceService.ModelInfer
	local assess=hydrocast.v1.HydrocastService.Assess
	# ghz v0.93.0 ignores -n when -x bounds the time, so both kinds of test are bounded
	# by time, the fixed-rate ones thereby also in count; calls still in flight when
	# the time is up are left out rather than counted as failed.
	local fixed=(--rps "$rate" -z "${rate_seconds}s" --duration-stop ignore -c 64)
	local full=(-z "${max_seconds}s" --duration-stop ignore -c 64)
	local wide=(-z "${max_seconds}s" --duration-stop ignore -c 256)
	local req=$out/load/req data

	# Every call the rounds measure is made for a while first, so that no round pays
	# for first calls (connections, lazily made state, a cold heap).
	say "warming up the server"
	local warm
	for warm in "$check" "$infer modelinfer" "$infer modelinfer-raw" "$assess assess"; do
		read -r call body <<<"$warm"
		data=()
		[ -n "${body:-}" ] && data=(-B "$req/$body.bin")
		"$ghz" --insecure --call "$call" "${data[@]}" -z 2s -c 16 "$addr" >/dev/null ||
			true
	done
	for a in $batch_addr $heavy_addr $heavy_batch_addr; do
		"$ghz" --insecure --call "$infer" -B "$req/modelinfer.bin" -z 2s -c 64 \
			"$a" >/dev/null || true
	done
	for r in $(seq 1 "$rounds"); do
		say "load-test round $r of $rounds"
		load check-1000rps "$r" "$check" "${fixed[@]}"
		load modelinfer-1000rps "$r" "$infer" -B "$req/modelinfer.bin" "${fixed[@]}"
		load modelinfer-raw-1000rps "$r" "$infer" -B "$req/modelinfer-raw.bin" "${fixed[@]}"
		load assess-1000rps "$r" "$assess" -B "$req/assess.bin" "${fixed[@]}"
		load check-max "$r" "$check" "${full[@]}"
		load modelinfer-max "$r" "$infer" -B "$req/modelinfer.bin" "${full[@]}"
		load modelinfer-raw-max "$r" "$infer" -B "$req/modelinfer-raw.bin" "${full[@]}"
		load modelinfer-c256 "$r" "$infer" -B "$req/modelinfer.bin" "${wide[@]}"
		if [ -n "$batch_addr" ]; then
			target=$batch_addr load modelinfer-c256-batching "$r" "$infer" \
				-B "$req/modelinfer.bin" "${wide[@]}"
		fi
		if [ -n "$heavy_addr" ] && [ -n "$heavy_batch_addr" ]; then
			target=$heavy_addr load heavy-c256 "$r" "$infer" \
				-B "$req/modelinfer.bin" "${wide[@]}"
			target=$heavy_batch_addr load heavy-c256-batching "$r" "$infer" \
				-B "$req/modelinfer.bin" "${wide[@]}"
		fi
	done
}

addr=
if [ -x "$ghz" ]; then
	notes+=("load generator: ${GHZ:-ghz $GHZ_VERSION}, on loopback")
	say "building $bin"
	if go build -o "$bin" ./cmd/hydrocast && prepare_models && start_server serve; then
		start_batching_servers
		say "server on $addr; seeding an athlete"
		mkdir -p "$out/load/req"
		if "$out/benchprep" seed --addr "$addr" --out "$out/load/req"; then
			run_load_tests
		fi
	else
		say "could not start the server: the load-test figures stay unmeasured"
	fi
	stop_servers
else
	say "no ghz at $ghz: the load-test figures stay unmeasured"
fi

# --- the table ------------------------------------------------------------------------

note_args=()
for n in "${notes[@]}"; do note_args+=(-note "$n"); done
go run ./scripts/benchtable -spec docs/bench.yaml -load "$out/load" \
	-json "$out/bench.json" "${note_args[@]}" "$out"/go/*.txt | tee "$out/table.txt"
