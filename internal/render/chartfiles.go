package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/ignore"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// loadChart loads the chart in dir from files read here rather than by
// Helm's directory loader, which follows every symlink: a link that
// leaves the roots fails the load with *OutsideError, before any of the
// chart is rendered, so .Files and templates never see what it points at.
// Links that stay inside are followed, as Helm does.
func loadChart(dir string, roots *Roots) (*chart.Chart, error) {
	top, err := roots.Resolve(dir)
	if err != nil {
		return nil, err
	}
	rules := ignore.Empty()
	switch b, err := roots.ReadFile(filepath.Join(dir, ignore.HelmIgnore)); {
	case err == nil:
		if rules, err = ignore.Parse(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("reading %s: %w", ignore.HelmIgnore, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	rules.AddDefaults()

	var files []*loader.BufferedFile
	var outside []error
	visited := map[string]bool{}
	var walk func(real, rel string) error
	walk = func(real, rel string) error {
		visited[real] = true
		entries, err := os.ReadDir(real)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := path.Join(rel, e.Name())
			p := filepath.Join(real, e.Name())
			if e.Type()&fs.ModeSymlink != 0 {
				resolved, err := roots.Resolve(filepath.Join(dir, filepath.FromSlash(name)))
				if err != nil {
					outside = append(outside, err)
					continue
				}
				p = resolved
			}
			info, err := os.Stat(p)
			if err != nil {
				return err
			}
			if rules.Ignore(name, info) {
				continue
			}
			if info.IsDir() {
				if visited[p] {
					continue
				}
				if err := walk(p, name); err != nil {
					return err
				}
				continue
			}
			if !info.Mode().IsRegular() {
				return fmt.Errorf("cannot load irregular file %s", name)
			}
			if info.Size() > loader.MaxDecompressedFileSize {
				return fmt.Errorf("chart file %q is larger than the maximum file size %d", name, loader.MaxDecompressedFileSize)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			files = append(files, &loader.BufferedFile{Name: name, Data: bytes.TrimPrefix(data, utf8BOM)})
		}
		return nil
	}
	if err := walk(top, ""); err != nil {
		return nil, err
	}
	if len(outside) > 0 {
		return nil, errors.Join(outside...)
	}
	return loader.LoadFiles(files)
}
