#!/usr/bin/env bash
# Benchmark of diff-config against the pipeline users script today:
# `kustomize build` of every overlay at both commits, then `diff`. The
# repo is generated: 100 overlays over 10 bases of 50 resources each
# (5,000 rendered resources); the second commit changes one base file.
# Goal: diff-config ≤ 5 s and ≤ 0.25 × the kustomize pipeline.
# Usage: bench/diff.sh [overlays-per-base]
set -euo pipefail
cd "$(dirname "$0")/.."
per=${1:-10}
work=$(mktemp -d)
[ -n "${BENCH_KEEP:-}" ] && echo "work: $work" >&2 || trap 'rm -rf "$work"' EXIT

echo "building diff-config and kustomize v5.7.1..." >&2
GOEXPERIMENT=jsonv2 go build -o "$work/bin/diff-config" ./cmd/diff-config
(cd "$work" && env -u GOEXPERIMENT GOFLAGS= GOBIN="$work/bin" go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1)

repo=$work/repo
mkdir -p "$repo"
for b in $(seq 1 10); do
	d=$repo/bases/b$b
	mkdir -p "$d"
	res=""
	for r in $(seq 1 25); do
		cat >"$d/app$r.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app$r
  labels: {app: app$r, base: b$b}
spec:
  replicas: 2
  selector: {matchLabels: {app: app$r}}
  template:
    metadata: {labels: {app: app$r}}
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app$r:1.0.0
          ports: [{containerPort: 8080}]
          resources: {requests: {cpu: 10m, memory: 32Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: app$r}
spec:
  selector: {app: app$r}
  ports: [{port: 80, targetPort: 8080}]
YAML
		res="$res app$r.yaml,"
	done
	echo "resources: [${res%,}]" >"$d/kustomization.yaml"
	for o in $(seq 1 "$per"); do
		od=$repo/overlays/b$b-o$o
		mkdir -p "$od"
		printf 'resources: [../../bases/b%s]\nnamespace: b%s-o%s\nlabels: [{pairs: {env: o%s}}]\n' "$b" "$b" "$o" "$o" >"$od/kustomization.yaml"
	done
done
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name=b -c user.email=b@example.com commit -qm base
sed -i 's/replicas: 2/replicas: 3/; s/app1:1.0.0/app1:1.1.0/' "$repo/bases/b3/app1.yaml"
git -C "$repo" -c user.name=b -c user.email=b@example.com commit -qam change
overlays=$(ls "$repo/overlays" | wc -l)
echo "repo: $overlays overlays over 10 bases, $((overlays * 50)) resources; one base file changed" >&2

# The scripted pipeline: build every overlay at both commits, then diff.
pipeline() {
	for side in base head; do
		rm -rf "$work/$side" "$work/out-$side"
		mkdir -p "$work/$side" "$work/out-$side"
		rev=HEAD
		[ "$side" = base ] && rev=HEAD~1
		git -C "$repo" archive "$rev" | tar -x -C "$work/$side"
		for o in "$work/$side"/overlays/*; do
			"$work/bin/kustomize" build "$o" >"$work/out-$side/$(basename "$o").yaml"
		done
	done
	diff -ru "$work/out-base" "$work/out-head" >"$work/pipeline.diff" || true
}

t0=$(date +%s.%N)
pipeline
t1=$(date +%s.%N)
(cd "$repo" && "$work/bin/diff-config" --output-format text --report-file "$work/report.json" >"$work/diff.out" 2>"$work/diff.err")
t2=$(date +%s.%N)
theirs=$(echo "$t1 - $t0" | bc)
ours=$(echo "$t2 - $t1" | bc)
grep -E '^(changed-units|changed-resources|added|removed)=' "$work/diff.out" >&2
grep 'reach' "$work/diff.err" >&2
printf 'kustomize build x%d x2 + diff  %6.2f s\n' "$overlays" "$theirs"
printf 'diff-config                    %6.2f s\n' "$ours"
ratio=$(echo "scale=3; $ours / $theirs" | bc)
printf 'ratio                          %6.3f (goal <= 0.25)\n' "$ratio"
grep -q '^changed-units=10$' "$work/diff.out" || { echo "FAIL: expected 10 changed units" >&2; exit 1; }
ok=$(echo "$ours <= 5 && $ratio <= 0.25" | bc)
[ "$ok" = 1 ] || { echo "FAIL: goal missed" >&2; exit 1; }
echo "PASS"
