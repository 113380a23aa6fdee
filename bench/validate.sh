#!/usr/bin/env bash
# Benchmark of validate-config against kubeconform -strict followed by
# conftest test, on a generated corpus (10,000 resources in 2,000 files by
# default) with the same schemas and the same Rego. Prints wall time and
# peak RSS of each and the ratio. Goal: ours ≤ 0.3 × theirs together,
# peak RSS ≤ 160 MB. Then the crd-path case: a small corpus (46 files,
# 230 resources) checked without and with crd-path naming one project's
# CRDs (Argo's, 8 MB of YAML from the embedded catalog), which once took
# such a run from 0.26 s to 6.2 s. Usage: bench/validate.sh [files]
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-2000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building validate-config, kubeconform v0.8.0 and conftest v0.71.1..." >&2
# Ours as the Makefile builds it; theirs as their own modules build them,
# outside this one and without this repo's GOEXPERIMENT.
GOEXPERIMENT=jsonv2 go build -o "$work/bin/validate-config" ./cmd/validate-config
(cd "$work" && env -u GOEXPERIMENT GOFLAGS= GOBIN="$work/bin" go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0)
(cd "$work" && env -u GOEXPERIMENT GOFLAGS= GOBIN="$work/bin" go install github.com/open-policy-agent/conftest@v0.71.1)
GOEXPERIMENT=jsonv2 go run ./bench/validatecorpus -out "$work/corpus" -schemas "$work/schemas" -files "$files"
GOEXPERIMENT=jsonv2 go run ./bench/validatecorpus -out "$work/small" -schemas "$work/small-schemas" -files 46
GOEXPERIMENT=jsonv2 go run ./bench/crdcorpus -out "$work/project" -schemas "$work/project-schemas" -group argoproj.io -overlays 0 -apps 0 >/dev/null

# measure NAME CMD...: wall seconds and peak RSS in KB into $work/NAME.
measure() {
	local name=$1
	shift
	# Findings make every tool exit 1; only the time matters here.
	/usr/bin/time -f "%e %M" -o "$work/$name" "$@" >"$work/$name.out" 2>&1 || true
	# GNU time puts "Command exited with non-zero status" before the figures.
	tail -n 1 "$work/$name" >"$work/$name.t" && mv "$work/$name.t" "$work/$name"
	read -r wall rss <"$work/$name"
	printf '%-16s %7.2f s  %6d MB\n' "$name" "$wall" "$((rss / 1024))"
}

cd "$work"
echo "corpus: $(find corpus -name "*.yaml" | wc -l) files, $((files * 5)) resources"
measure validate-config bin/validate-config --path corpus --policy "$OLDPWD/bench/policy" --kubernetes-version 1.37
measure kubeconform bin/kubeconform -strict -summary -schema-location "schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" corpus
measure conftest bin/conftest test --policy "$OLDPWD/bench/policy" corpus
grep -q '^resources=' validate-config.out || { echo "validate-config did not run:" >&2; cat validate-config.out >&2; exit 1; }
grep -q 'Valid: ' kubeconform.out || { echo "kubeconform did not run:" >&2; cat kubeconform.out >&2; exit 1; }
read -r ow orss <validate-config
read -r kw krss <kubeconform
read -r cw crss <conftest
awk -v ow="$ow" -v orss="$orss" -v kw="$kw" -v krss="$krss" -v cw="$cw" -v crss="$crss" 'BEGIN {
	theirs = kw + cw; peak = (krss > crss ? krss : crss)
	printf "kubeconform+conftest %.2f s, peak %d MB\n", theirs, peak / 1024
	printf "ratio (ours/theirs): time %.2f, peak RSS %.2f\n", ow / theirs, orss / peak
	printf "goal: time ratio <= 0.3 and peak RSS <= 160 MB: %s\n", (ow <= 0.3 * theirs && orss <= 160 * 1024) ? "met" : "NOT met"
}'

measure small-run bin/validate-config --path small --kubernetes-version 1.37
measure crd-path-run bin/validate-config --path small --crd-path project/base/crds --kubernetes-version 1.37
grep -q '^resources=' crd-path-run.out || { echo "validate-config with crd-path did not run:" >&2; cat crd-path-run.out >&2; exit 1; }
read -r sw srss <small-run
read -r cw crss <crd-path-run
echo "crd-path of $(du -sm project/base/crds | cut -f1) MB adds $(awk -v a="$sw" -v b="$cw" 'BEGIN { printf "%.2f", b - a }') s and $(((crss - srss) / 1024)) MB; load: $(cut -d' ' -f1-3 /proc/loadavg)"
