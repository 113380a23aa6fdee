#!/usr/bin/env bash
# Times bump-manifest end to end (clone, edit, commit, push) against
# config repos served by `git daemon` on 127.0.0.1 (the git:// smart
# protocol, pushes enabled):
#
#   one      one image in one of FILES YAML files bumped     goal <= 3 s
#   sidecar  a sidecar present in all FILES files bumped     goal <= 2 s
#   race     RACERS bumpers at once, each bumping its own
#            image of one shared file, default settings      goal: all land
#   large    one image in one of LARGE files, a history of
#            LARGE_COMMITS commits, paths naming its folder  goal <= 1 s
#            (also timed without paths, and against a server
#            that does not take filters, for comparison)
#
# Usage: bench/bump.sh [files] [racers] [large] [large-commits]
#        (defaults 5000, 40, 50000 and 20000)
set -euo pipefail

files=${1:-5000}
racers=${2:-40}
large=${3:-50000}
large_commits=${4:-20000}
large_api=$((large * 4242 / 5000))
api=$((files * 4242 / 5000)) # the file of the one-image case
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
daemon_pid=
cleanup() {
	if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# Git gets a private HOME; Go keeps its caches where they were.
GOMODCACHE=$(go env GOMODCACHE)
GOCACHE=$(go env GOCACHE)
GOPATH=$(go env GOPATH)
export GOMODCACHE GOCACHE GOPATH
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
mkdir -p "$HOME"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid

echo "building bump-manifest"
(cd "$root" && go build -o "$work/bump-manifest" ./cmd/bump-manifest)

# seed <name> <dir>: commit dir's files as branch main of <name>.git.
seed() {
	git -C "$2" init --quiet --initial-branch=main
	git -C "$2" add --all
	git -C "$2" commit --quiet -m seed
	git init --quiet --bare --initial-branch=main "$work/srv/$1.git"
	git -C "$2" push --quiet "$work/srv/$1.git" main
}

echo "generating a config repo of $files YAML files"
for ((i = 0; i < files; i++)); do
	dir="$work/config/apps/team$((i % 50))/svc$i"
	mkdir -p "$dir"
	image="ghcr.io/acme/svc$i"
	[ "$i" -eq "$api" ] && image="ghcr.io/acme/api"
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
        - name: proxy
          image: ghcr.io/acme/sidecar:1.0.0
YAML
done
seed config "$work/config"

echo "generating a repo of one file holding $racers images"
mkdir -p "$work/shared"
{
	printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n'
	for ((i = 0; i < racers; i++)); do
		printf '  - name: ghcr.io/acme/svc%d\n    newTag: 1.0.0\n' "$i"
	done
} >"$work/shared/kustomization.yaml"
seed shared "$work/shared"

echo "generating a config repo of $large files and $large_commits commits"
# One fast-import stream: the first commit adds every file, each later one
# changes one of them, so the tip's tree is as large as the repo is.
git init --quiet --bare --initial-branch=main "$work/srv/large.git"
awk -v files="$large" -v commits="$large_commits" -v api="$large_api" '
function file(i, rev,   image, body) {
	image = (i == api) ? "ghcr.io/acme/api" : "ghcr.io/acme/svc" i
	body = sprintf("# Service %d, revision %d.\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc%d\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: %s:1.0.0   # bumped by CI\n", i, rev, i, image)
	printf "M 100644 inline apps/team%d/svc%d/deployment.yaml\ndata %d\n%s\n", i % 50, i, length(body), body
}
function commit(n, msg) {
	printf "commit refs/heads/main\ncommitter bench <bench@example.invalid> %d +0000\ndata %d\n%s\n", 1700000000 + n, length(msg), msg
}
BEGIN {
	commit(0, "seed")
	for (i = 0; i < files; i++) file(i, 0)
	for (n = 1; n < commits; n++) {
		commit(n, "change " n)
		file((n * 7919) % files, n)
	}
}' | git -C "$work/srv/large.git" fast-import --quiet
git -C "$work/srv/large.git" config uploadpack.allowFilter true

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --listen=127.0.0.1 --port="$port" --base-path="$work/srv" --export-all \
	--enable=receive-pack --reuseaddr "$work/srv" 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 50); do
	git ls-remote "git://127.0.0.1:$port/config.git" >/dev/null 2>&1 && break
	sleep 0.1
done
url="git://127.0.0.1:$port"

clone_start=$(date +%s.%N)
git clone --quiet --depth 1 "$url/config.git" "$work/probe"
clone_end=$(date +%s.%N)
echo "a bare shallow clone alone takes $(echo "$clone_end - $clone_start" | bc)s"

# bump <out> <args...>: one timed run; prints its seconds.
bump() {
	local out=$1 start end
	shift
	start=$(date +%s.%N)
	"$work/bump-manifest" --report-file "$out.json" "$@" >"$out.txt" 2>"$out.err" || {
		cat "$out.txt" "$out.err" >&2
		echo "bump-manifest $* failed" >&2
		exit 1
	}
	end=$(date +%s.%N)
	grep -q '^changed=true$' "$out.txt" || { cat "$out.txt" "$out.err" >&2; echo "bump did not change anything" >&2; exit 1; }
	echo "$end - $start" | bc
}

echo "case one: one image in one file"
secs=$(bump "$work/one" --repository "$url/config.git" --image ghcr.io/acme/api --tag 1.1.0)
git -C "$work/srv/config.git" show "main:apps/team$((api % 50))/svc$api/deployment.yaml" | grep -q 'ghcr.io/acme/api:1.1.0   # bumped by CI' \
	|| { echo "the change is not on the remote" >&2; exit 1; }
echo "one bump over $files files, one changed: ${secs}s (goal <= 3s)"

echo "case sidecar: one image in every file"
secs=$(bump "$work/sidecar" --repository "$url/config.git" --image ghcr.io/acme/sidecar --tag 1.1.0)
changed=$(git -C "$work/srv/config.git" diff --name-only main~1 main | wc -l)
[ "$changed" -eq "$files" ] || { echo "the last commit changed $changed files, want $files" >&2; exit 1; }
[ "$(git -C "$work/srv/config.git" grep -c 'sidecar:1.0.0' main | wc -l)" -eq 0 ] \
	|| { echo "some files still hold sidecar:1.0.0" >&2; exit 1; }
echo "one bump over $files files, all changed: ${secs}s (goal <= 2s)"

echo "case race: $racers bumpers at once on one file"
start=$(date +%s.%N)
pids=()
for ((i = 0; i < racers; i++)); do
	"$work/bump-manifest" --repository "$url/shared.git" --image "ghcr.io/acme/svc$i" --tag "2.0.$i" \
		>"$work/race$i.txt" 2>"$work/race$i.err" &
	pids+=("$!")
done
failed=0
for i in "${!pids[@]}"; do
	if ! wait "${pids[$i]}"; then
		failed=$((failed + 1))
		echo "bumper $i failed:" >&2
		grep -v "^push attempt" "$work/race$i.err" | tail -n 12 >&2
	fi
done
end=$(date +%s.%N)
final=$(git -C "$work/srv/shared.git" show main:kustomization.yaml)
landed=0
for ((i = 0; i < racers; i++)); do
	if grep -qx "  - name: ghcr.io/acme/svc$i" <<<"$final" &&
		grep -A1 -x "  - name: ghcr.io/acme/svc$i" <<<"$final" | grep -qx "    newTag: 2.0.$i"; then
		landed=$((landed + 1))
	fi
done
commits=$(git -C "$work/srv/shared.git" rev-list --count main)
attempts=$(cat "$work"/race*.err | grep -c 'push attempt' || true)
echo "race: $landed of $racers landed, $failed exited non-zero, $((commits - 1)) commits, $attempts push retries, $(echo "$end - $start" | bc)s"
if [ "$landed" -ne "$racers" ] || [ "$failed" -ne 0 ] || [ "$commits" -ne $((racers + 1)) ]; then
	echo "race: changes were lost" >&2
	exit 1
fi

echo "case large: one image in one of $large files, $large_commits commits"
large_dir="apps/team$((large_api % 50))/svc$large_api"
# bump_large <name> <tag> [args...]: one bump of the large repo; checks the
# change landed and prints its seconds.
bump_large() {
	local name=$1 tag=$2 secs
	shift 2
	secs=$(bump "$work/$name" --repository "$url/large.git" --image ghcr.io/acme/api --tag "$tag" "$@")
	git -C "$work/srv/large.git" show "main:$large_dir/deployment.yaml" | grep -q "ghcr.io/acme/api:$tag   # bumped by CI" \
		|| { echo "large: the change to $tag is not on the remote" >&2; exit 1; }
	echo "$secs"
}
secs=$(bump_large large-paths 1.1.0 --paths "$large_dir")
echo "one bump over $large files, paths naming one folder: ${secs}s (goal <= 1s)"
secs=$(bump_large large-all 1.2.0)
echo "one bump over $large files, every file read: ${secs}s"
git -C "$work/srv/large.git" config uploadpack.allowFilter false
secs=$(bump_large large-nofilter 1.3.0 --paths "$large_dir")
echo "the same with paths, a server without filters (whole clone): ${secs}s"
