#!/usr/bin/env bash
# Speed of prune-images (registry provider, tag retention) against the
# floor: a bare loop sending the same DELETEs at the same concurrency with
# no listing, age reading or reachability walk.
#
# Starts Debian's docker-registry (distribution 2.8, delete enabled, the
# package's default in-memory blob descriptor cache) on a
# free loopback port, seeds two identical repositories with N old pr-* tags
# and one kept 2-platform index, prunes one with prune-images and the other
# with the bare loop, and prints deletes per second for both.
# Goal: prune-images >= 0.8 x the bare loop, listing and planning included.
#
#   bench/prune.sh [N (default 500)] [CONCURRENCY (default 8)] [OLDER_THAN (default 7d)] [ROUNDS (default 3)]
#
# With OLDER_THAN 0 no ages are needed and prune-images reads one manifest
# per tag; with an age rule it also reads each candidate's config blob,
# since distribution keeps no timestamps. Two runs of ours are timed per
# round, on two identical repositories: cold (no age-cache) and warm (an
# age-cache filled by a dry run before, as yesterday's scheduled run
# would have filled it).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
CONC=${2:-8}
OLDER=${3:-7d}
ROUNDS=${4:-3}
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

port=$("$work/prunebench" port)
cat >"$work/config.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  cache:
    blobdescriptor: inmemory
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

# seconds since $1 (from date +%s%N)
since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

ours() { # repository [extra args]; prints seconds
  local t0 repo=$1
  shift
  t0=$(date +%s%N)
  "$work/prune-images" --repository "$repo" --provider registry --tag-filter '^pr-' \
    --older-than "$OLDER" --concurrency "$CONC" "$@" >"$work/ours.out"
  since "$t0"
  deleted=$(sed -n 's/^deleted=//p' "$work/ours.out")
  if [ "$deleted" != "$N" ]; then
    echo "prune-images deleted $deleted, want $N" >&2
    cat "$work/ours.out" >&2
    exit 1
  fi
}

bare() { # repository digests-file; prints seconds
  "$work/prunebench" bare -repo "$1" -digests "$2" -concurrency "$CONC" |
    sed -n 's/^bare: [0-9]* deletes in \([0-9.]*\)s$/\1/p'
}

# The machine's load varies: several rounds, rotating which goes first,
# and the medians compared.
: >"$work/times"
for round in $(seq "$ROUNDS"); do
  for r in cold warm bare; do
    "$work/prunebench" seed -repo "$host/r$round/$r" -n "$N" -concurrency "$CONC" -digests "$work/$r.txt"
  done
  rm -f "$work/ages.json"
  t0=$(date +%s%N)
  "$work/prune-images" --repository "$host/r$round/warm" --provider registry --tag-filter '^pr-' \
    --older-than "$OLDER" --concurrency "$CONC" --age-cache "$work/ages.json" --dry-run >/dev/null
  plan=$(since "$t0")
  case $((round % 3)) in
  1) c=$(ours "$host/r$round/cold"); w=$(ours "$host/r$round/warm" --age-cache "$work/ages.json"); b=$(bare "$host/r$round/bare" "$work/bare.txt") ;;
  2) b=$(bare "$host/r$round/bare" "$work/bare.txt"); c=$(ours "$host/r$round/cold"); w=$(ours "$host/r$round/warm" --age-cache "$work/ages.json") ;;
  0) w=$(ours "$host/r$round/warm" --age-cache "$work/ages.json"); b=$(bare "$host/r$round/bare" "$work/bare.txt"); c=$(ours "$host/r$round/cold") ;;
  esac
  echo "round $round: prune-images cold ${c}s, warm age-cache ${w}s (cold dry-run plan ${plan}s), bare loop ${b}s"
  echo "$c $w $b" >>"$work/times"
done

awk -v n="$N" '
  { c[NR] = $1; w[NR] = $2; b[NR] = $3 }
  function median(a, k,   i, j, t) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  END {
    cold = median(c, NR); warm = median(w, NR); bare = median(b, NR)
    printf "prune-images, cold:           %d deletes in %.3fs = %.0f deletes/s (median; listing, ages, reachability, deletes)\n", n, cold, n / cold
    printf "prune-images, warm age-cache: %d deletes in %.3fs = %.0f deletes/s (median)\n", n, warm, n / warm
    printf "bare loop:                    %d deletes in %.3fs = %.0f deletes/s (median)\n", n, bare, n / bare
    printf "ratio cold: %.2f (goal >= 0.80): %s\n", bare / cold, (bare / cold >= 0.8 ? "met" : "NOT met")
    printf "ratio warm: %.2f (goal >= 0.80): %s\n", bare / warm, (bare / warm >= 0.8 ? "met" : "NOT met")
    exit (bare / warm >= 0.8 ? 0 : 1)
  }' "$work/times"
