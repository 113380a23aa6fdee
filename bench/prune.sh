#!/usr/bin/env bash
# Speed of prune-images (registry provider, tag retention) against the
# floor: a bare loop sending the same DELETEs at the same concurrency with
# no listing, age reading or reachability walk.
#
# Starts Debian's docker-registry (distribution 2.8, delete enabled) on a
# free loopback port, seeds two identical repositories with N old pr-* tags
# and one kept 2-platform index, prunes one with prune-images and the other
# with the bare loop, and prints deletes per second for both.
# Goal: prune-images >= 0.8 x the bare loop, listing and planning included.
#
#   bench/prune.sh [N (default 500)] [CONCURRENCY (default 8)] [OLDER_THAN (default 7d)]
#
# With OLDER_THAN 0 no ages are needed and prune-images reads one manifest
# per tag; with an age rule it also reads each candidate's config blob,
# since distribution keeps no timestamps.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
CONC=${2:-8}
OLDER=${3:-7d}
export GOEXPERIMENT=jsonv2

REGISTRY=$(command -v docker-registry || true)
if [ -z "$REGISTRY" ]; then
  echo "bench/prune.sh: docker-registry not found: apt-get install docker-registry" >&2
  exit 1
fi

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/prune-images" ./cmd/prune-images
go build -o "$work/prunebench" ./bench/prunebench

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/config.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
YAML
"$REGISTRY" serve "$work/config.yml" >"$work/registry.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break
  sleep 0.1
done
host=127.0.0.1:$port

"$work/prunebench" seed -repo "$host/bench/ours" -n "$N" -concurrency "$CONC" -digests "$work/ours.txt"
"$work/prunebench" seed -repo "$host/bench/bare" -n "$N" -concurrency "$CONC" -digests "$work/bare.txt"

dstart=$(date +%s.%N)
"$work/prune-images" --repository "$host/bench/ours" --provider registry --tag-filter "^pr-" --older-than "$OLDER" --concurrency "$CONC" --dry-run >/dev/null
echo "dry run (plan only): $(python3 -c "import sys,time; print(round(time.time()-float(sys.argv[1]),3))" $dstart)s"
start=$(date +%s.%N)
"$work/prune-images" --repository "$host/bench/ours" --provider registry \
  --tag-filter '^pr-' --older-than "$OLDER" --concurrency "$CONC" --report-file "$work/report.json" >"$work/ours.out"
end=$(date +%s.%N)
deleted=$(sed -n 's/^deleted=//p' "$work/ours.out")
if [ "$deleted" != "$N" ]; then
  echo "prune-images deleted $deleted, want $N" >&2
  cat "$work/ours.out" >&2
  exit 1
fi

bare_out=$("$work/prunebench" bare -repo "$host/bench/bare" -digests "$work/bare.txt" -concurrency "$CONC")
bare_s=$(echo "$bare_out" | sed -n 's/^bare: [0-9]* deletes in \([0-9.]*\)s$/\1/p')

python3 - "$N" "$start" "$end" "$bare_s" <<'PY'
import sys
n, start, end, bare = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ours = end - start
o, b = n / ours, n / bare
print(f"prune-images: {n} deletes in {ours:.3f}s = {o:.0f} deletes/s (listing, ages, reachability, deletes)")
print(f"bare loop:    {n} deletes in {bare:.3f}s = {b:.0f} deletes/s")
ratio = o / b
print(f"ratio: {ratio:.2f} (goal >= 0.80): {'met' if ratio >= 0.8 else 'NOT met'}")
sys.exit(0 if ratio >= 0.8 else 1)
PY
