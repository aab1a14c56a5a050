#!/usr/bin/env bash
# Checks that each package given exports the same top-level API on amd64 and
# arm64: functions and types with the same declarations, variables and
# constants by name (their values differ by design, "false" off amd64).
# make test vets only the per-architecture packages for arm64; the rest of
# the tree is the same Go on both, so it compiles there when what it sees of
# those packages is the same.
#
#   tools/archapi.sh ./internal/kernels/...
set -euo pipefail
GO=${GO:-go}
api() { GOARCH=$1 $GO doc -short "$2" | sed -E 's/^(var|const) ([A-Za-z0-9_]+).*/value \2/' | sort; }
status=0
for p in $($GO list "$@"); do
  if ! d=$(diff <(api amd64 "$p") <(api arm64 "$p")); then
    echo "$p exports a different API on amd64 (<) and arm64 (>):"
    echo "$d"
    status=1
  fi
done
exit $status
