#!/usr/bin/env bash
# Runs each fuzz target (pkg:Name) for FUZZTIME. A target fails on a real
# finding: a failing input written to pkg/testdata/fuzz/Name, or any other
# failure. Go 1.26's fuzz coordinator can also end a clean run with a bare
# "context deadline exceeded" when a worker is mid-input as -fuzztime runs
# out (go.dev/issue/75804, fixed in Go 1.27): that, with no input written,
# is reported and the target's corpus replayed instead of failing the run.
# Without go test's vet: make test vets; here it would recompute its facts
# for the fuzz build's instrumented packages.
#
#   tools/fuzz.sh 30s ./internal/config:FuzzParse ./internal/data:FuzzParseCSV
set -uo pipefail
GO=${GO:-go}
FUZZTIME=$1
shift
for t in "$@"; do
  pkg=${t%%:*} name=${t##*:}
  dir=$pkg/testdata/fuzz/$name
  before=$(ls "$dir" 2>/dev/null | wc -l)
  echo "fuzz $name ($pkg, $FUZZTIME)"
  out=$($GO test -vet=off -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" 2>&1)
  status=$?
  echo "$out"
  [ $status -eq 0 ] && continue
  after=$(ls "$dir" 2>/dev/null | wc -l)
  if [ "$after" -eq "$before" ] && grep -q '^    context deadline exceeded$' <<<"$out" &&
    [ "$(grep -c -- '--- FAIL' <<<"$out")" -eq 1 ]; then
    echo "fuzz $name: the coordinator's deadline race (go.dev/issue/75804), no failing input; replaying the corpus"
    $GO test -count=1 -run "^$name\$" "$pkg" || exit 1
    continue
  fi
  exit 1
done
