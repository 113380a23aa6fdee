#!/usr/bin/env bash
# Cold start of an action (default: scan) as a runner sees it: from the
# generated action.yml's first step to the action's first line of output.
#
#   release      the fetch step downloads the release archive from a local
#                server, checks it against checksums.txt and unpacks it
#                (the attestation check, an API call, is not timed)
#   release-raw  the former fetch step: the raw binary, checksum only
#   source-warm  not a release ref: the source build with the Go caches
#                restored (setup-go's cache hit; this machine's caches)
#   source-cold  the source build with empty build and module caches
#                (setup-go's cache missed; modules come from the proxy)
#
#   bench/start.sh [RUNS (default 5)] [ACTION (default scan)] [COLD (default 1: also time source-cold, minutes)]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
ACTION=${2:-scan}
COLD=${3:-1}
export GOEXPERIMENT=jsonv2 CGO_ENABLED=0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/startbench" ./bench/startbench
# The release binary, built as the release workflow builds it.
go build -trimpath -ldflags "-s -w -X github.com/gitops-actions/gitops-actions/internal/version.Version=v9.9.9" \
  -o "$work/${ACTION}_linux_amd64" "./cmd/$ACTION"

case "$ACTION" in
scan) args=(--path examples/code-repo --vulnerabilities=false --sbom-file "$work/sbom.json") ;;
*) args=(--help) ;;
esac

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: >"$work/times"
for _ in $(seq "$RUNS"); do
  for m in release release-raw; do
    "$work/startbench" -root . -action "$ACTION" -mode "$m" -release "$work/${ACTION}_linux_amd64" -- "${args[@]}" | tee -a "$work/times" | grep -v '^result\|^bytes'
  done
done
"$work/startbench" -root . -action "$ACTION" -mode source-warm -- "${args[@]}" | tee -a "$work/times" | grep -v '^result'
if [ "$COLD" = 1 ]; then
  "$work/startbench" -root . -action "$ACTION" -mode source-cold -- "${args[@]}" | tee -a "$work/times" | grep -v '^result'
fi
for m in release release-raw source-warm source-cold; do
  grep -q "^result $m " "$work/times" || continue
  t=$(awk -v m="$m" '$1 == "result" && $2 == m {print $3}' "$work/times" | median)
  b=$(awk -v m="$m" '$1 == "bytes" && $2 == m {print $3; exit}' "$work/times")
  printf '%-12s first line of output after %ss (median)%s\n' "$m" "$t" "${b:+, $b bytes downloaded}"
done
