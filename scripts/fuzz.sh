#!/usr/bin/env bash
# Runs every fuzz target of the module for the given time each (default 10s); CI runs
# it with 3s, `make fuzz` longer. FUZZ_MINIMIZE bounds the minimisation of a crasher
# (default 5s). Crashers land in the package's testdata/fuzz/ folder: commit them as
# regression tests, which `go test` then replays.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
minimize=${FUZZ_MINIMIZE:-5s}
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null |
    sed 's/^func //' | sort -u || true)
  for t in $targets; do
    echo "== $pkg $t ($fuzztime)"
    if ! go test "$pkg" -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize"; then
      status=1
    fi
  done
done
exit $status
