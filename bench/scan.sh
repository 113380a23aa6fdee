#!/usr/bin/env bash
# bench/scan.sh: the scan action (one analysis → SBOM + vulnerabilities)
# against what it replaces, the syft CLI then the trivy CLI, on one local
# image with one offline vulnerability database.
#
#   bench/scan.sh [runs]        (default 5 runs each; needs go and network
#                                for the first `go install` of the CLIs)
#
# The image: Debian 12 with this machine's /var/lib/dpkg/status when there
# is one (else 700 generated packages), two Go binaries and npm packages.
# Our scan runs cold (it keeps no layer cache); trivy runs with
# --cache-backend memory. Prints medians, the ratio ours / (syft + trivy)
# (goal <= 0.3) and peak RSS (goal <= the larger of the two CLIs), and
# whether we and the trivy CLI find the same vulnerabilities.
# Beside it: `scanner: grype` against the grype CLI on the same image and
# one grype database written from the same advisories, and whether the two
# find the same vulnerabilities, and whether the grype CLI's SARIF, given
# as our baseline, leaves nothing new; a two-platform index against one of its
# platforms (goal <= 1.6x); and the same skip-dirs/skip-files globs given
# to us and to the trivy CLI.
set -euo pipefail

runs="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GOEXPERIMENT=jsonv2 CGO_ENABLED=0
SYFT_VERSION=v1.57.1
TRIVY_VERSION=v0.74.0
GRYPE_VERSION=v0.121.2
bin="${SCAN_BENCH_GOBIN:-$work/bin}"
mkdir -p "$bin"

echo "building scan and the fixture..."
(cd "$root" && go build -trimpath -o "$bin/scan" ./cmd/scan)
status_arg=()
if [[ -r /var/lib/dpkg/status ]]; then status_arg=(-dpkg-status /var/lib/dpkg/status); fi
(cd "$root" && go run ./bench/scanfixture -out "$work/fx" "${status_arg[@]}")

if [[ ! -x "$bin/syft" ]]; then
  echo "installing syft $SYFT_VERSION and trivy $TRIVY_VERSION from the module proxy into $bin..."
  GOBIN="$bin" go install "github.com/anchore/syft/cmd/syft@$SYFT_VERSION"
fi
if [[ ! -x "$bin/trivy" ]]; then
  GOBIN="$bin" go install "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION"
fi
if [[ ! -x "$bin/grype" ]]; then
  # grype's own build, outside this module and without our GOEXPERIMENT.
  (cd "$work" && env -u GOEXPERIMENT GOBIN="$bin" GOFLAGS=-mod=mod GOWORK=off go install "github.com/anchore/grype/cmd/grype@$GRYPE_VERSION")
fi

# measure CMD...: prints "seconds peak_rss_kb" for one run.
measure() {
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
    cat "$work/time"
    return
  fi
  # No GNU time: sample VmHWM from /proc while the command runs.
  local start end pid peak=0 hwm
  start=$(date +%s.%N)
  "$@" >/dev/null 2>"$work/err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n "$hwm" && "$hwm" -gt "$peak" ]] && peak=$hwm
    sleep 0.01
  done
  wait "$pid"
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc) $peak"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cache="$work/fx/cache"
img="$work/fx/image.tar"
: >"$work/ours" ; : >"$work/syft" ; : >"$work/trivy"
for _ in $(seq "$runs"); do
  measure "$bin/scan" --input "$img" --cache-dir "$cache" --skip-db-update --fail-on none \
    --sbom-file "$work/ours.spdx.json" --sarif-file "$work/ours.sarif" >>"$work/ours"
  measure "$bin/syft" "docker-archive:$img" -q -o "spdx-json=$work/syft.spdx.json" >>"$work/syft"
  measure "$bin/trivy" image --quiet --input "$img" --cache-dir "$cache" --skip-db-update --skip-java-db-update \
    --offline-scan --cache-backend memory --scanners vuln --format sarif -o "$work/trivy.sarif" >>"$work/trivy"
done

# grype: our scan with scanner: grype (syft's catalog, as the grype CLI
# makes it) against the grype CLI on the OCI layout of the same image.
export GRYPE_DB_CACHE_DIR="$cache/grype-db" GRYPE_DB_AUTO_UPDATE=false GRYPE_DB_VALIDATE_AGE=false \
  GRYPE_CHECK_FOR_APP_UPDATE=false GRYPE_DB_REQUIRE_UPDATE_CHECK=false
: >"$work/oursg" ; : >"$work/grype"
for _ in $(seq "$runs"); do
  measure "$bin/scan" --input "$img" --cache-dir "$cache" --skip-db-update --fail-on none --scanner grype \
    --sbom-generator syft --sbom-file "$work/oursg.spdx.json" --report-file "$work/oursg.json" >>"$work/oursg"
  measure "$bin/grype" "oci-dir:$work/fx/oci" -q -o json --file "$work/grype.json" >>"$work/grype"
done
oursg=$(cut -d' ' -f1 "$work/oursg" | median)
grype=$(cut -d' ' -f1 "$work/grype" | median)
rss_oursg=$(cut -d' ' -f2 "$work/oursg" | sort -n | tail -1)
rss_grype=$(cut -d' ' -f2 "$work/grype" | sort -n | tail -1)
jq -r '.vulnerabilities[] | "\(.id) \(.package)@\(.installed)"' "$work/oursg.json" | sort -u >"$work/oursg.set"
jq -r '.matches[] | "\(.vulnerability.id) \(.artifact.name)@\(.artifact.version)"' "$work/grype.json" | sort -u >"$work/grype.set"
# The grype CLI's SARIF as our baseline: the same image has nothing new.
"$bin/grype" "oci-dir:$work/fx/oci" -q -o sarif --file "$work/grype.sarif"
"$bin/scan" --input "$img" --cache-dir "$cache" --skip-db-update --fail-on LOW --scanner grype --sbom-generator syft \
  --sbom-file "$work/base.spdx.json" --baseline "$work/grype.sarif" --report-file "$work/base.json" >"$work/base.out" || {
  echo "scan against the grype CLI's SARIF as baseline failed (exit $?):"; cat "$work/base.out"; }
base_new=$(jq '[.vulnerabilities[] | select(.baseline == "new")] | length' "$work/base.json")
base_unchanged=$(jq '[.vulnerabilities[] | select(.baseline == "unchanged")] | length' "$work/base.json")
base_fixed=$(jq '.baseline.fixed | length' "$work/base.json")

# Every platform of an index: the two-platform index (OCI layout) against
# one of its platforms (platforms: linux/amd64), both cold.
: >"$work/plat1" ; : >"$work/plat2"
for _ in $(seq "$runs"); do
  measure "$bin/scan" --input "$work/fx/oci-index" --platforms linux/amd64 --cache-dir "$cache" --skip-db-update --fail-on none \
    --sbom-file "$work/plat1-{platform}.json" >>"$work/plat1"
  measure "$bin/scan" --input "$work/fx/oci-index" --cache-dir "$cache" --skip-db-update --fail-on none \
    --sbom-file "$work/plat2-{platform}.json" --report-file "$work/plat2.json" >>"$work/plat2"
done
plat1=$(cut -d' ' -f1 "$work/plat1" | median)
plat2=$(cut -d' ' -f1 "$work/plat2" | median)
nplat=$(jq '.platforms | length' "$work/plat2.json")

# The same vulnerabilities as the trivy CLI, every severity.
"$bin/scan" --input "$img" --cache-dir "$cache" --skip-db-update --fail-on none --severity CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN \
  --sbom-file "$work/all.spdx.json" --report-file "$work/all.json" >/dev/null
"$bin/trivy" image --quiet --input "$img" --cache-dir "$cache" --skip-db-update --skip-java-db-update --offline-scan \
  --cache-backend memory --scanners vuln --format json -o "$work/trivy-all.json"
jq -r '.vulnerabilities[] | "\(.id) \(.package)@\(.installed)"' "$work/all.json" | sort -u >"$work/all.set"
jq -r '.Results[]?.Vulnerabilities[]? | "\(.VulnerabilityID) \(.PkgName)@\(.InstalledVersion)"' "$work/trivy-all.json" | sort -u >"$work/trivy-all.set"

# skip-dirs and skip-files: the same globs given to the trivy CLI and to us
# must leave the same vulnerabilities.
skips=(--skip-dirs '**/node_modules' --skip-files 'usr/local/bin/worker')
"$bin/scan" --input "$img" --cache-dir "$cache" --skip-db-update --fail-on none --severity CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN \
  "${skips[@]}" --sbom-file "$work/skip.spdx.json" --report-file "$work/skip.json" >/dev/null
"$bin/trivy" image --quiet --input "$img" --cache-dir "$cache" --skip-db-update --skip-java-db-update --offline-scan \
  --cache-backend memory --scanners vuln "${skips[@]}" --format json -o "$work/trivy-skip.json"
jq -r '.vulnerabilities[] | "\(.id) \(.package)@\(.installed)"' "$work/skip.json" | sort -u >"$work/skip.set"
jq -r '.Results[]?.Vulnerabilities[]? | "\(.VulnerabilityID) \(.PkgName)@\(.InstalledVersion)"' "$work/trivy-skip.json" | sort -u >"$work/trivy-skip.set"

ours=$(cut -d' ' -f1 "$work/ours" | median)
syft=$(cut -d' ' -f1 "$work/syft" | median)
trivy=$(cut -d' ' -f1 "$work/trivy" | median)
rss_ours=$(cut -d' ' -f2 "$work/ours" | sort -n | tail -1)
rss_syft=$(cut -d' ' -f2 "$work/syft" | sort -n | tail -1)
rss_trivy=$(cut -d' ' -f2 "$work/trivy" | sort -n | tail -1)
pkgs=$(grep -c '"SPDXID": "SPDXRef-Package' "$work/ours.spdx.json" || true)

printf 'image: %s SPDX packages in our SBOM; %s runs each\n' "$pkgs" "$runs"
printf '%-22s %8s s  peak RSS %7s KiB\n' "scan (ours, cold)" "$ours" "$rss_ours" \
  "syft $SYFT_VERSION" "$syft" "$rss_syft" "trivy $TRIVY_VERSION" "$trivy" "$rss_trivy"
awk -v o="$ours" -v s="$syft" -v t="$trivy" 'BEGIN {printf "ratio ours / (syft + trivy) = %.2f (goal <= 0.30)\n", o / (s + t)}'
max=$(( rss_syft > rss_trivy ? rss_syft : rss_trivy ))
echo "peak RSS ours ${rss_ours} KiB vs larger CLI ${max} KiB (goal: ours <= larger)"
echo "trivy findings: ours $(wc -l <"$work/all.set"), trivy CLI $(wc -l <"$work/trivy-all.set")"
if ! diff "$work/all.set" "$work/trivy-all.set" >"$work/all.diff"; then
  echo "trivy findings differ (< ours, > trivy CLI):"; cat "$work/all.diff"
fi
printf '%-22s %8s s  peak RSS %7s KiB\n' "scan --scanner grype" "$oursg" "$rss_oursg" "grype $GRYPE_VERSION" "$grype" "$rss_grype"
awk -v o="$oursg" -v g="$grype" 'BEGIN {printf "ratio ours (grype) / grype CLI = %.2f\n", o / g}'
echo "grype findings: ours $(wc -l <"$work/oursg.set"), grype CLI $(wc -l <"$work/grype.set")"
if ! diff "$work/oursg.set" "$work/grype.set" >"$work/grype.diff"; then
  echo "grype findings differ (< ours, > grype CLI):"; cat "$work/grype.diff"
fi
echo "against the grype CLI's SARIF as baseline: new $base_new, unchanged $base_unchanged, fixed $base_fixed (goal: new 0, fixed 0)"
printf '%-22s %8s s\n' "index, 1 platform" "$plat1" "index, $nplat platforms" "$plat2"
awk -v a="$plat1" -v b="$plat2" 'BEGIN {printf "ratio 2 platforms / 1 platform = %.2f (goal <= 1.60)\n", b / a}'
echo "skip-dirs/skip-files findings: ours $(wc -l <"$work/skip.set"), trivy CLI $(wc -l <"$work/trivy-skip.set")"
if ! diff "$work/skip.set" "$work/trivy-skip.set" >"$work/skip.diff"; then
  echo "skip findings differ (< ours, > trivy CLI):"; cat "$work/skip.diff"
fi
