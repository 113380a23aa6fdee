package catalog

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/aquasecurity/trivy/pkg/fanal/walker"
	"github.com/bmatcuk/doublestar/v4"
)

// Skip are globs of paths the analysis does not read, as trivy's
// --skip-dirs and --skip-files spell them: doublestar patterns (`**` for
// any depth) matched against the whole path relative to the scanned root.
// A directory matched by Dirs is left out with everything under it; Files
// match regular files only.
type Skip struct {
	Dirs, Files []string
}

// CleanSkipPattern is a skip glob as it is matched: slash-separated,
// cleaned, without a leading "/" (trivy's own normalisation). It refuses a
// pattern that is not a glob, names the root itself or climbs out of it.
func CleanSkipPattern(p string) (string, error) {
	c := strings.TrimLeft(path.Clean(filepath.ToSlash(strings.TrimSpace(p))), "/")
	switch {
	case c == "" || c == ".":
		return "", fmt.Errorf("%q names the scanned root itself", p)
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", fmt.Errorf("%q leaves the scanned root; paths are relative to it", p)
	case !doublestar.ValidatePattern(c):
		return "", fmt.Errorf("%q is not a valid glob (*, **, ?, [a-z], {a,b}, \\ to quote)", p)
	}
	return c, nil
}

// Empty says nothing is skipped.
func (s Skip) Empty() bool { return len(s.Dirs) == 0 && len(s.Files) == 0 }

// layerWalker is trivy's image walker option. trivy skips a directory
// when it meets the directory's own entry in a layer; a layer may hold
// files without their directories' entries, so each directory also skips
// every file under it.
func (s Skip) layerWalker() walker.Option {
	files := append([]string(nil), s.Files...)
	for _, d := range s.Dirs {
		files = append(files, d+"/**")
	}
	return walker.Option{SkipDirs: s.Dirs, SkipFiles: files}
}

// dirWalker is trivy's filesystem walker option for root. trivy takes a
// relative pattern as relative to the working directory when it names
// something there; absolute ones it makes relative to the root, which is
// what the patterns already are.
func (s Skip) dirWalker(root string) (walker.Option, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return walker.Option{}, err
	}
	rooted := func(ps []string) []string {
		var out []string
		for _, p := range ps {
			out = append(out, filepath.Join(abs, filepath.FromSlash(p)))
		}
		return out
	}
	return walker.Option{SkipDirs: rooted(s.Dirs), SkipFiles: rooted(s.Files)}, nil
}

// syftExcludes are the patterns as syft's exclusions take them: absolute
// in an image, "./"-rooted in a directory. syft excludes a match and what
// is under it, file or directory alike.
func (s Skip) syftExcludes(prefix string) []string {
	var out []string
	for _, p := range append(append([]string(nil), s.Dirs...), s.Files...) {
		out = append(out, prefix+p)
	}
	return out
}
