#!/usr/bin/env bash
# Compare the build action's go builder with `ko build` on the example
# service: linux/amd64 + linux/arm64, same base image, same local registry
# (Debian's docker-registry on 127.0.0.1), warm Go build cache, RUNS timed
# runs each after one warm-up. Prints both medians and ours/ko (goal <= 1.0).
#
#   bench/build.sh            # RUNS=5 by default
#   RUNS=9 bench/build.sh
set -euo pipefail

RUNS=${RUNS:-5}
KO_VERSION=${KO_VERSION:-v0.19.1}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
reg_pid=""
cleanup() {
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

command -v docker-registry >/dev/null || { echo "docker-registry is missing (Debian package docker-registry)" >&2; exit 1; }

echo "building the build action and ko $KO_VERSION" >&2
(cd "$root" && go build -o "$work/bin/build" ./cmd/build)
GOBIN="$work/bin" go install "github.com/google/ko@$KO_VERSION"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $work/registry}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
reg=127.0.0.1:$port

# One two-platform base for both: the example itself on an empty base.
"$work/bin/build" --builder go --context "$root/examples/code-repo" --go-main . --base-image scratch \
  --platforms linux/amd64,linux/arm64 --image "$reg/bench/base" --tags base >/dev/null 2>"$work/base.log"
base="$reg/bench/base:base"

ours() {
  "$work/bin/build" --builder go --context "$root/examples/code-repo" --go-main . --base-image "$base" \
    --platforms linux/amd64,linux/arm64 --image "$reg/bench/ours" --tags bench --lint off 2>/dev/null | sed -n 's/^digest=//p'
}
ko_build() {
  (cd "$root/examples/code-repo" && KO_DOCKER_REPO="$reg/bench/ko" KO_DEFAULTBASEIMAGE="$base" \
    "$work/bin/ko" build --sbom=none --bare --tags bench --platform=linux/amd64,linux/arm64 . 2>/dev/null | sed 's/.*@//')
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

time_runs() {
  local fn=$1 out=$2 digests=$3
  "$fn" >/dev/null # warm-up: fills the Go cache for both platforms
  for _ in $(seq "$RUNS"); do
    local s e
    s=$(date +%s.%N)
    "$fn" >>"$digests"
    e=$(date +%s.%N)
    echo "$e - $s" | bc -l >>"$out"
  done
}

time_runs ours "$work/ours.t" "$work/ours.d"
time_runs ko_build "$work/ko.t" "$work/ko.d"

m_ours=$(median <"$work/ours.t")
m_ko=$(median <"$work/ko.t")
printf 'runs each:         %d (warm Go cache, 2 platforms)\n' "$RUNS"
printf 'go builder median: %.3f s   (runs: %s)\n' "$m_ours" "$(xargs printf '%.2f ' <"$work/ours.t")"
printf 'ko build median:   %.3f s   (runs: %s)\n' "$m_ko" "$(xargs printf '%.2f ' <"$work/ko.t")"
printf 'ratio ours/ko:     %.2f (goal <= 1.0)\n' "$(echo "$m_ours / $m_ko" | bc -l)"
printf 'distinct digests:  ours %d, ko %d (1 = reproducible)\n' "$(sort -u "$work/ours.d" | wc -l)" "$(sort -u "$work/ko.d" | wc -l)"
