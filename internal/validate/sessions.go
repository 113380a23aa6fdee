package validate

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/gitops-actions/gitops-actions/internal/render"
)

// sharedBaseBytes is how much a base's own files must hold for the
// kustomizations over it to be rendered one after another in one render
// process: a process reads and parses what it is given once and keeps it
// for the next unit, so a second process would hold a second copy (a
// project's CRDs are megabytes, 10–20 times that once parsed) and spend
// the time again. Lighter bases gain more from rendering in parallel.
const sharedBaseBytes = 1 << 20

// renderGroups partitions the kustomizations in dirs (by index) so that
// those sharing a base of sharedBaseBytes or more are in one group, in
// their order; every other kustomization is a group of its own.
func renderGroups(roots *render.Roots, dirs []string) [][]int {
	parent := make([]int, len(dirs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	weights := map[string]int64{}
	heavyBy := map[string]int{} // heavy base → first unit reaching it
	for i, d := range dirs {
		for _, base := range reachedBases(roots, d) {
			w, ok := weights[base]
			if !ok {
				w = ownFileBytes(roots, base)
				weights[base] = w
			}
			if w < sharedBaseBytes {
				continue
			}
			if first, ok := heavyBy[base]; ok {
				parent[find(i)] = find(first)
			} else {
				heavyBy[base] = i
			}
		}
	}
	var groups [][]int
	index := map[int]int{}
	for i := range dirs {
		root := find(i)
		g, ok := index[root]
		if !ok {
			g = len(groups)
			index[root] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// reachedBases lists the kustomization directories the one in dir
// includes, directly or through others, dir itself first.
func reachedBases(roots *render.Roots, dir string) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(d string)
	walk = func(d string) {
		if seen[d] {
			return
		}
		seen[d] = true
		out = append(out, d)
		for _, ref := range kustomizationRefs(roots, d) {
			if isKustomizationDir(roots, ref) {
				walk(ref)
			}
		}
	}
	walk(slash(dir))
	return out
}

func isKustomizationDir(roots *render.Roots, dir string) bool {
	return slices.ContainsFunc(render.KustomizationFiles, func(k string) bool {
		return isKustomizeFile(roots, filepath.Join(dir, k))
	})
}

// ownFileBytes is the size of the files the kustomization in dir names
// itself (resources, patches), not those of the kustomizations it includes.
func ownFileBytes(roots *render.Roots, dir string) int64 {
	var n int64
	for _, ref := range kustomizationRefs(roots, dir) {
		real, err := roots.Resolve(ref)
		if err != nil {
			continue
		}
		if info, err := os.Stat(real); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}
