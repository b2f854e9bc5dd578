#!/usr/bin/env bash
# The main job on embedded defaults: on the first run simulate a cohort, train and
# register the three models; then start the server, replay a workout through its gRPC
# ingest API, print the minute-by-minute timeline and stop the server cleanly.
set -euo pipefail
bin=${1:-bin/hydrocast}
state=${2:-var/demo}
mkdir -p "$state"

hc() { "$bin" --home "$state" "$@"; }

if ! hc models show sweat-rate --alias production >/dev/null 2>&1; then
  echo "== first run: simulating a synthetic cohort"
  rm -rf "$state/cohort"
  hc simulate --athletes 60 --seed 7 --out "$state/cohort" | tee "$state/simulate.txt"
  echo "== training and registering the three models"
  hc train --data "$state/cohort" --publish-alias production
fi

# The simulator prints a ready replay command per FIT file, with the session's weather.
replay_args=$(grep -m1 -- '--ambient-temp-c' "$state/simulate.txt" | sed 's/^ *hydrocast replay //')
read -r workout _ athlete _ temp _ humidity <<<"$replay_args"
echo "== starting the server"
rm -rf "$state/wal" # each demo run replays into an empty feature store
addr_file="$state/serve.addr"
rm -f "$addr_file"
"$bin" --home "$state" serve --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --addr-file "$addr_file" >"$state/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$addr_file" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$state/serve.log"; exit 1; }
  sleep 0.1
done
addr=$(cat "$addr_file")
echo "   listening on $addr (log: $state/serve.log)"

echo "== replaying $workout ($temp °C, $humidity % humidity) through the gRPC ingest API"
hc replay "$workout" --athlete "$athlete" --ambient-temp-c "$temp" --humidity-pct "$humidity" \
  --server "$addr"

echo "== stopping the server"
kill -TERM "$server"
wait "$server"
trap - EXIT
echo "done. Try next: $bin --home $state replay $workout --athlete $athlete --output jsonl"
echo "      or: export HYDROCAST_HOME=$state; $bin models list (more in README.md)"
