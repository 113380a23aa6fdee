package bump

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// yamlFiles lists the YAML files under root that paths name: files as
// given, directories walked, globs (with **) matched. Slash-separated,
// sorted, without duplicates; .git is never entered.
func yamlFiles(root string, paths []string) ([]string, error) {
	fsys := os.DirFS(root)
	var out []string
	add := func(p string, d fs.DirEntry) error {
		if d.IsDir() {
			return fs.WalkDir(fsys, p, func(q string, e fs.DirEntry, err error) error {
				switch {
				case err != nil:
					return err
				case e.IsDir() && e.Name() == ".git":
					return fs.SkipDir
				case !e.IsDir() && isYAML(q):
					out = append(out, q)
				}
				return nil
			})
		}
		out = append(out, p)
		return nil
	}
	for _, p := range paths {
		p = path.Clean(strings.TrimPrefix(filepath.ToSlash(p), "./"))
		if strings.ContainsAny(p, "*?[{") {
			matches, err := doublestar.Glob(fsys, p, doublestar.WithFailOnIOErrors())
			if err != nil {
				return nil, fmt.Errorf("paths: glob %q: %w", p, err)
			}
			for _, m := range matches {
				d, err := fs.Stat(fsys, m)
				if err != nil {
					return nil, err
				}
				if d.IsDir() || isYAML(m) {
					if err := add(m, fs.FileInfoToDirEntry(d)); err != nil {
						return nil, err
					}
				}
			}
			continue
		}
		d, err := fs.Stat(fsys, p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("paths: %q does not exist in the config repo", p)
		}
		if err != nil {
			return nil, err
		}
		if err := add(p, fs.FileInfoToDirEntry(d)); err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func isYAML(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".yaml" || ext == ".yml" || path.Base(p) == "Kustomization"
}
