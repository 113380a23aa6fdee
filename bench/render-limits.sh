#!/usr/bin/env bash
# Hostile charts against validate-config's render limits, with the default
# render-max-bytes (64Mi, so 640 MiB of render-process memory): one chart
# writes 1 GB, one calls `until 1000000000`, one loops without end (cut
# at --render-timeout, 10s here so the run is short), beside a good chart,
# a kustomization and a plain file. Prints the findings, wall time and
# peak RSS (GNU time's figure: the largest of validate-config and its
# render processes). Goal: the three limits found, the good units
# checked, peak RSS under 1 GB. Usage: bench/render-limits.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOEXPERIMENT=jsonv2 CGO_ENABLED=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/validate-config" ./cmd/validate-config

repo=$work/repo
chart() { # chart NAME TEMPLATE
	mkdir -p "$repo/$1/templates"
	printf 'apiVersion: v2\nname: %s\nversion: 0.1.0\n' "$1" >"$repo/$1/Chart.yaml"
	printf '%s\n' "$2" >"$repo/$1/templates/t.yaml"
}
pod='apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  securityContext: {runAsNonRoot: true}
  containers: [{name: a, image: "registry.example.com/a:latest", resources: {requests: {cpu: 1m, memory: 1Mi}}}]'
chart gigabyte 'data: {{ range until 10000000 }}{{ "x" | repeat 99 }}
{{ end }}'
chart until '{{ range until 1000000000 }}x{{ end }}'
chart forever '{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}'
chart good "${pod/NAME/good}"
mkdir -p "$repo/overlay"
echo 'resources: [pod.yaml]' >"$repo/overlay/kustomization.yaml"
echo "${pod/NAME/kustomized}" >"$repo/overlay/pod.yaml"
echo "${pod/NAME/plain}" >"$repo/plain.yaml"

/usr/bin/time -f "%e %M" -o "$work/time" "$work/validate-config" --path "$repo" --render-timeout 10s >"$work/out" 2>&1 || true
sed "s#$repo/##" "$work/out" | grep -E ': error GA-|^resources='
read -r wall rss < <(tail -n 1 "$work/time")
printf 'wall %.1f s, peak RSS %d MB\n' "$wall" "$((rss / 1024))"
limits=$(grep -c 'GA-RENDER-LIMIT' "$work/out" || true)
checked=$(grep -c ': error GA-IMAGE-NOT-PINNED' "$work/out" || true)
if [ "$limits" -eq 3 ] && [ "$checked" -eq 3 ] && [ "$rss" -lt $((1024 * 1024)) ]; then
	echo "goal met: 3 limits, 3 good units checked, peak under 1 GB"
else
	echo "goal NOT met: $limits limits, $checked good units checked" >&2
	exit 1
fi
