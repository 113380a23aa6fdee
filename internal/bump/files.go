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

// selectedLinks picks from links (the repo's symbolic links) those that
// paths would read through: a link paths name or lie under, one under a
// directory they name, or one a glob matches directly or through a
// directory. Its name does not matter: a link may stand for a directory.
func selectedLinks(links []string, paths []string) []string {
	var out []string
	for _, l := range links {
		for _, p := range paths {
			p = path.Clean(strings.TrimPrefix(p, "./"))
			if p == "." || l == p || strings.HasPrefix(l, p+"/") || strings.HasPrefix(p, l+"/") ||
				(strings.ContainsAny(p, "*?[{") && globMatches(p, l)) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// maxLinkHops bounds the links followed while resolving one, as the
// kernel's limit does; a chain longer than that counts as leaving.
const maxLinkHops = 40

// leavesRepo reports whether the link at p resolves outside the tree's
// root, following the links it meets inside (links maps each link's path
// to its target). An absolute target always leaves: the clone's own
// directory is not known to the repo's author.
func leavesRepo(p string, links map[string]string) bool {
	var at []string // resolved components below the root
	if d := path.Dir(p); d != "." {
		at = strings.Split(d, "/")
	}
	rest := []string{}
	hops := 0
	follow := func(target string) bool {
		hops++
		if hops > maxLinkHops || strings.HasPrefix(target, "/") {
			return false
		}
		rest = append(strings.Split(target, "/"), rest...)
		return true
	}
	if !follow(links[p]) {
		return true
	}
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
		case "..":
			if len(at) == 0 {
				return true
			}
			at = at[:len(at)-1]
		default:
			if t, ok := links[strings.Join(append(at, c), "/")]; ok {
				if !follow(t) {
					return true
				}
				continue
			}
			at = append(at, c)
		}
	}
	return false
}
