#!/usr/bin/env bash
# Benchmark of validate-config against kustomize build of every
# overlay followed by kubeconform -strict on the outputs, on a
# generated config repo: 7 overlays over one base holding at least 12 MB
# of CRD YAML (the embedded catalog's CRDs) plus 50 workload resources.
# Both get the same schemas. Prints wall time and peak RSS of each and the
# ratio. Goal: ours <= 0.5 x theirs, peak RSS <= 400 MB.
# Usage: bench/validate-crds.sh [overlays]
set -euo pipefail
cd "$(dirname "$0")/.."
overlays=${1:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building validate-config, kustomize v5.7.1 and kubeconform v0.8.0..." >&2
# Ours as the Makefile builds it; theirs as their own modules build them,
# outside this one and without this repo's GOEXPERIMENT.
GOEXPERIMENT=jsonv2 go build -o "$work/bin/validate-config" ./cmd/validate-config
(cd "$work" && env -u GOEXPERIMENT GOFLAGS= GOBIN="$work/bin" go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1)
(cd "$work" && env -u GOEXPERIMENT GOFLAGS= GOBIN="$work/bin" go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0)
GOEXPERIMENT=jsonv2 go run ./bench/crdcorpus -out "$work/repo" -schemas "$work/schemas" -overlays "$overlays"

# measure NAME CMD...: wall seconds and peak RSS in KB into $work/NAME.
# validate-config renders in child processes next to its own, and GNU
# time's %M is the largest single process, so the peak is also sampled
# as the sum over the whole process tree; the larger of the two counts.
measure() {
	local name=$1 tpid peak=0 sum wall rss
	shift
	# Findings make the tools exit 1; whether they ran is checked below.
	/usr/bin/time -f "%e %M" -o "$work/$name" "$@" >"$work/$name.out" 2>&1 &
	tpid=$!
	while kill -0 "$tpid" 2>/dev/null; do
		sum=$(ps -eo pid=,ppid=,rss= | awk -v root="$tpid" '{ p[$1] = $2; r[$1] = $3 }
			END { for (i in p) { j = i; while ((j in p) && j != root && j > 1) j = p[j]; if (j == root && i != root) s += r[i] } print s + 0 }')
		((sum > peak)) && peak=$sum
		sleep 0.2
	done
	wait "$tpid" || true
	# GNU time puts "Command exited with non-zero status" before the figures.
	read -r wall rss < <(tail -n 1 "$work/$name")
	((peak > rss)) && rss=$peak
	echo "$wall $rss" >"$work/$name"
	printf '%-16s %7.2f s  %6d MB\n' "$name" "$wall" "$((rss / 1024))"
}

cd "$work"
# The overlays: validate-config renders the base only through them, so
# both check the same resources.
mapfile -t units < <(find repo/overlays -name kustomization.yaml -printf '%h\n' | sort)
echo "repo: ${#units[@]} overlays over one base, $(du -sm repo/base/crds | cut -f1) MB of CRD YAML in the base; load: $(cut -d' ' -f1-3 /proc/loadavg)"
measure validate-config bin/validate-config --path repo --kubernetes-version 1.37
# One kustomize process per overlay, as a CLI pipeline runs them;
# GNU time's peak is that of the largest one. The loop's variables are
# the inner shell's, so single quotes are meant.
# shellcheck disable=SC2016
measure kustomize bash -c 'set -e; mkdir -p out; for d in "$@"; do bin/kustomize build "$d" >"out/$(echo "$d" | tr / _).yaml"; done; echo built' _ "${units[@]}"
measure kubeconform bin/kubeconform -strict -summary -schema-location "schemas/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" out
grep -q '^resources=' validate-config.out || { echo "validate-config did not run:" >&2; cat validate-config.out >&2; exit 1; }
grep -qx 'built' kustomize.out || { echo "kustomize did not build every overlay:" >&2; cat kustomize.out >&2; exit 1; }
grep -q 'Valid: ' kubeconform.out || { echo "kubeconform did not run:" >&2; cat kubeconform.out >&2; exit 1; }
# A schema kubeconform could not find would make its time meaningless.
if grep -q 'could not find schema' kubeconform.out; then
	echo "kubeconform lacks schemas:" >&2
	grep -m 5 'could not find schema' kubeconform.out >&2
	exit 1
fi
echo "validate-config: $(grep -m 1 '^resources=' validate-config.out)"
echo "kubeconform: $(grep 'Valid: ' kubeconform.out)"
read -r ow orss <validate-config
read -r bw brss <kustomize
read -r kw krss <kubeconform
awk -v ow="$ow" -v orss="$orss" -v bw="$bw" -v brss="$brss" -v kw="$kw" -v krss="$krss" 'BEGIN {
	theirs = bw + kw; peak = (brss > krss ? brss : krss)
	printf "kustomize+kubeconform %.2f s, peak %d MB\n", theirs, peak / 1024
	printf "ratio (ours/theirs): time %.2f, peak RSS %.2f\n", ow / theirs, orss / peak
	printf "goal: time ratio <= 0.5 and peak RSS <= 400 MB: %s\n", (ow <= 0.5 * theirs && orss <= 400 * 1024) ? "met" : "NOT met"
}'
