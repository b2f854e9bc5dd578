#!/usr/bin/env bash
# Executes every notebook in notebooks/ on inputs made by the binary, as CI does:
# simulate a small cohort, train two versions, evaluate them (Parquet and JSON), serve
# the first and replay a workout through it for the drift report, then run
# `jupyter nbconvert --execute` on each notebook. The notebooks in the tree keep their
# outputs stripped; the executed copies, with their tables and plots, go to
# var/notebooks/ (NOTEBOOKS_OUT names another folder).
#
# Needs Debian's python3-nbconvert, python3-ipykernel, python3-pandas and
# python3-matplotlib (PYTHON names another interpreter). Debian 12 packages no Parquet
# engine for pandas: without pyarrow the Parquet inputs are also copied to CSV by
# notebooks/parquetcsv (Go), and the notebooks read those.
set -euo pipefail
bin=${1:-bin/hydrocast}
python=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
notebooks="$root/notebooks"
executed=${NOTEBOOKS_OUT:-$root/var/notebooks}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

missing=$("$python" - <<'PY'
import importlib.util
need = ["nbconvert", "ipykernel", "pandas", "matplotlib"]
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
  echo "notebooks: $python lacks $missing (Debian: python3-nbconvert python3-ipykernel" \
    "python3-pandas python3-matplotlib)" >&2
  exit 1
fi

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
home="$work/home"
hc() { "$bin" --home "$home" "$@"; }

echo "== inputs in $work"
hc simulate --athletes 12 --seed 5 --fit-files 1 --out "$work/cohort" >"$work/simulate.txt"
hc train --data "$work/cohort" --publish-alias production >/dev/null
hc train --data "$work/cohort" --seed 9 >/dev/null
hc eval --model sweat-rate --versions 1,2 --data "$work/cohort" --format parquet \
  --out "$work/eval.parquet"
hc eval --model sweat-rate --versions 1,2 --data "$work/cohort" --format json \
  --out "$work/eval.json"

# Live traffic for the drift report: serve version 1 and replay a simulated workout.
replay_args=$(grep -m1 -- '--ambient-temp-c' "$work/simulate.txt" | sed 's/^ *hydrocast replay //')
read -r workout _ athlete _ temp _ humidity <<<"$replay_args"
addr_file="$work/serve.addr"
# Started directly, not through hc, so that $! is the server's own process.
"$bin" --home "$home" serve --listen 127.0.0.1:0 --http-listen "" --addr-file "$addr_file" \
  >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
  [ -s "$addr_file" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
hc replay "$workout" --athlete "$athlete" --ambient-temp-c "$temp" --humidity-pct "$humidity" \
  --server "$(cat "$addr_file")" --output jsonl >"$work/predictions.jsonl"
kill -TERM "$server"
wait "$server" || true
server=""
hc drift report --model sweat-rate --format json --out "$work/drift.json"

export HYDROCAST_EVAL_PARQUET="$work/eval.parquet" HYDROCAST_EVAL_JSON="$work/eval.json"
export HYDROCAST_DRIFT_JSON="$work/drift.json" HYDROCAST_COHORT="$work/cohort"
if ! "$python" -c 'import pyarrow' 2>/dev/null; then
  echo "== no pyarrow: copying the cohort's Parquet tables to CSV"
  (cd "$root" && go run ./notebooks/parquetcsv "$work/cohort" "$work/cohort-csv")
  export HYDROCAST_COHORT_CSV="$work/cohort-csv"
fi
export MPLBACKEND=Agg PYDEVD_DISABLE_FILE_VALIDATION=1
for nb in "$notebooks"/*.ipynb; do
  echo "== executing $(basename "$nb")"
  "$python" -m nbconvert --to notebook --execute --ExecutePreprocessor.timeout=300 \
    --output-dir "$executed" "$nb"
done
echo "all notebooks ran; the executed copies are in $executed"
