#!/usr/bin/env bash
# .github/refresh-action-pins.sh: resolve every row of .github/action-pins.tsv
# again from GitHub (the row's tag -> its commit SHA and the runs.using of
# its action.yml), rewrite the table, and move every `uses: action@sha # tag`
# in the tracked files of a row that changed.
#
#   .github/refresh-action-pins.sh           keep each row's tag
#   .github/refresh-action-pins.sh --latest  move each row to its newest vX.Y.Z tag
#
# Not run by CI: it needs git and the network (GITHUB_SERVER_URL, default
# https://github.com). After a Dependabot update of a pin, write the new tag
# into that row and run it without --latest. Then run `go generate ./actions`
# (the generated action.yml files take their pins from internal/manifest)
# and `go test ./internal/scripts -run 'TestActionPins|TestActionlint'`.
# Any row it cannot resolve stops it before anything is written.
set -euo pipefail

latest=false
case "${1:-}" in
"") ;;
--latest) latest=true ;;
*)
	echo "usage: $0 [--latest]" >&2
	exit 2
	;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
table="$root/.github/action-pins.tsv"
server="${GITHUB_SERVER_URL:-https://github.com}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# runs_using prints runs.using of the action.yml given on stdin.
runs_using() {
	awk '
		/^runs:/ { inruns = 1; next }
		inruns && /^[^[:space:]#]/ { inruns = 0 }
		inruns && /^[[:space:]]+using:/ {
			sub(/^[[:space:]]+using:[[:space:]]*/, "")
			sub(/[[:space:]]*#.*$/, "")
			sub(/[[:space:]]+$/, "")
			gsub(/["'\'']/, "")
			print
			exit
		}'
}

# sed_escape quotes $1 for a basic regular expression between | delimiters.
sed_escape() {
	printf '%s' "$1" | sed 's/[][\.*^$|]/\\&/g'
}

out="$work/table"
changes="$work/changes"
: >"$changes"
header=false
while IFS= read -r line || [[ -n "$line" ]]; do
	if [[ -z "$line" || "$line" == \#* ]]; then
		printf '%s\n' "$line" >>"$out"
		continue
	fi
	IFS=$'\t' read -r name sha tag using <<<"$line"
	if ! $header; then
		if [[ "$name $sha $tag $using" != "action sha tag runs-using" ]]; then
			echo "$table: the first row must be the header action, sha, tag, runs-using" >&2
			exit 2
		fi
		header=true
		printf '%s\n' "$line" >>"$out"
		continue
	fi
	if [[ ! "$name" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?$ ]]; then
		echo "$table: action $name is not owner/repo[/path]" >&2
		exit 2
	fi
	repo="$(cut -d/ -f1-2 <<<"$name")"
	path=""
	if [[ "$name" == "$repo"/* ]]; then path="${name#"$repo"/}/"; fi
	url="$server/$repo"

	newtag="$tag"
	if $latest; then
		newtag="$(git ls-remote --tags --refs "$url" 'v*' |
			sed -n 's|^[0-9a-f]*[[:space:]]*refs/tags/\(v[0-9]*\.[0-9]*\.[0-9]*\)$|\1|p' |
			sort -V | tail -n 1)"
		if [[ -z "$newtag" ]]; then
			echo "$url: no vX.Y.Z tag" >&2
			exit 3
		fi
	fi

	# A shallow, blobless fetch: only the blob of action.yml is read (some
	# action repositories commit hundreds of MB of node_modules).
	gitdir="$work/${repo//\//+}.git"
	if [[ ! -d "$gitdir" ]]; then
		git init -q --bare "$gitdir"
		git --git-dir="$gitdir" remote add origin "$url"
		git --git-dir="$gitdir" config remote.origin.promisor true
		git --git-dir="$gitdir" config remote.origin.partialclonefilter blob:none
	fi
	if ! git --git-dir="$gitdir" fetch -q --no-tags --depth 1 --filter=blob:none origin "refs/tags/$newtag:refs/tags/$newtag"; then
		echo "$url: cannot fetch tag $newtag" >&2
		exit 3
	fi
	newsha="$(git --git-dir="$gitdir" rev-parse "refs/tags/$newtag^{commit}")"
	meta=""
	for f in action.yml action.yaml; do
		if meta="$(git --git-dir="$gitdir" show "$newsha:$path$f" 2>/dev/null)"; then break; fi
		meta=""
	done
	if [[ -z "$meta" ]]; then
		echo "$name $newtag: no ${path}action.yml at $newsha" >&2
		exit 3
	fi
	newusing="$(runs_using <<<"$meta")"
	if [[ -z "$newusing" ]]; then
		echo "$name $newtag: ${path}action.yml has no runs.using" >&2
		exit 3
	fi
	if [[ "$newusing" =~ ^node([0-9]+)$ ]] && ((BASH_REMATCH[1] < 24)); then
		echo "warning: $name $newtag runs $newusing, which GitHub-hosted runners no longer run" >&2
	fi

	printf '%s\t%s\t%s\t%s\n' "$name" "$newsha" "$newtag" "$newusing" >>"$out"
	if [[ "$newsha $newtag" != "$sha $tag" ]]; then
		printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$sha" "$tag" "$newsha" "$newtag" >>"$changes"
		echo "$name: $tag ($sha) -> $newtag ($newsha), $newusing"
	elif [[ "$newusing" != "$using" ]]; then
		echo "$name $tag: runs.using $using -> $newusing"
	fi
done <"$table"

if ! $header; then
	echo "$table: no header row" >&2
	exit 2
fi
mv "$out" "$table"

while IFS=$'\t' read -r name sha tag newsha newtag; do
	old="$(sed_escape "$name@$sha # $tag")"
	new="$(sed_escape "$name@$newsha # $newtag")"
	git -C "$root" grep -lzF "$name@$sha" -- ':!.github/action-pins.tsv' |
		while IFS= read -r -d '' f; do
			sed -i "s|$old|$new|g" "$root/$f"
			echo "  moved in $f"
		done
done <"$changes"
