#!/usr/bin/env bash
# Times one bump-manifest run end to end (clone, edit, commit, push)
# against a config repo of 5,000 YAML files served by `git daemon` on
# 127.0.0.1 (the git:// smart protocol, pushes enabled). Goal: <= 3 s.
#
# Usage: bench/bump.sh [files]   (default 5000)
set -euo pipefail

files=${1:-5000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
daemon_pid=
cleanup() {
	if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# Git gets a private HOME; Go keeps its caches where they were.
export GOMODCACHE="$(go env GOMODCACHE)" GOCACHE="$(go env GOCACHE)" GOPATH="$(go env GOPATH)"
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
mkdir -p "$HOME"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid

echo "building bump-manifest"
(cd "$root" && go build -o "$work/bump-manifest" ./cmd/bump-manifest)

echo "generating a config repo of $files YAML files"
seed="$work/seed"
mkdir -p "$seed"
for ((i = 0; i < files; i++)); do
	dir="$seed/apps/team$((i % 50))/svc$i"
	mkdir -p "$dir"
	image="ghcr.io/acme/svc$i"
	[ "$i" -eq 4242 ] && image="ghcr.io/acme/api"
	cat >"$dir/deployment.yaml" <<YAML
# Service $i.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc$i
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: $image:1.0.0   # bumped by CI
          resources:
            requests: {cpu: 100m, memory: 128Mi}
YAML
done
git -C "$seed" init --quiet --initial-branch=main
git -C "$seed" add --all
git -C "$seed" commit --quiet -m seed
git init --quiet --bare --initial-branch=main "$work/srv/config.git"
git -C "$seed" push --quiet "$work/srv/config.git" main

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --listen=127.0.0.1 --port="$port" --base-path="$work/srv" --export-all \
	--enable=receive-pack --reuseaddr "$work/srv" 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 50); do
	git ls-remote "git://127.0.0.1:$port/config.git" >/dev/null 2>&1 && break
	sleep 0.1
done

clone_start=$(date +%s.%N)
git clone --quiet --depth 1 "git://127.0.0.1:$port/config.git" "$work/probe"
clone_end=$(date +%s.%N)
echo "a bare shallow clone alone takes $(echo "$clone_end - $clone_start" | bc)s"

echo "timing one bump"
start=$(date +%s.%N)
"$work/bump-manifest" --repository "git://127.0.0.1:$port/config.git" \
	--image ghcr.io/acme/api --tag 1.1.0 --report-file "$work/report.json" >"$work/out.txt"
end=$(date +%s.%N)
grep -q '^changed=true$' "$work/out.txt" || { cat "$work/out.txt"; echo "bump did not change anything" >&2; exit 1; }
git -C "$work/srv/config.git" show main:apps/team42/svc4242/deployment.yaml | grep -q 'ghcr.io/acme/api:1.1.0   # bumped by CI' \
	|| { echo "the change is not on the remote" >&2; exit 1; }
secs=$(echo "$end - $start" | bc)
echo "one bump over $files files: ${secs}s (goal <= 3s)"
