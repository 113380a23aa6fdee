package bump

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// selectFiles picks from all (the repo's files, slash-separated) the ones
// paths name: a file as given, a directory's YAML files at any depth, or
// the YAML files a glob (with **) matches directly or through a directory
// it matches. Sorted, without duplicates.
func selectFiles(all []string, paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		p = path.Clean(strings.TrimPrefix(p, "./"))
		n := len(out)
		switch {
		case p == ".":
			for _, f := range all {
				if isYAML(f) {
					out = append(out, f)
				}
			}
		case strings.ContainsAny(p, "*?[{"):
			if !doublestar.ValidatePattern(p) {
				return nil, fmt.Errorf("glob %q is malformed", p)
			}
			for _, f := range all {
				if isYAML(f) && globMatches(p, f) {
					out = append(out, f)
				}
			}
		default:
			if _, ok := slices.BinarySearch(all, p); ok {
				out = append(out, p)
				continue
			}
			for _, f := range all {
				if strings.HasPrefix(f, p+"/") && isYAML(f) {
					out = append(out, f)
				}
			}
			if len(out) == n && !hasDir(all, p) {
				return nil, fmt.Errorf("%q does not exist in the config repo", p)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// globMatches reports whether the pattern matches f or a directory above it.
func globMatches(pattern, f string) bool {
	for p := f; p != "." && p != "/"; p = path.Dir(p) {
		if ok, _ := doublestar.Match(pattern, p); ok {
			return true
		}
	}
	return false
}

func hasDir(all []string, dir string) bool {
	i, _ := slices.BinarySearch(all, dir+"/")
	return i < len(all) && strings.HasPrefix(all[i], dir+"/")
}

func isYAML(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yaml" || ext == ".yml" || path.Base(p) == "Kustomization"
}
