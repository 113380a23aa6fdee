package diffconfig

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/validate"
)

// How a unit is rendered.
const (
	renderKustomize = "kustomize"
	renderHelm      = "helm"
	renderFiles     = "files"
)

// unit is one thing that renders to a set of objects: a kustomization,
// a chart with its values, a directory of plain files, or what an Argo CD
// or Flux object deploys. Paths are relative to the tree's top.
type unit struct {
	Name string `json:"name"`
	// Kind says where the unit came from: kustomize, helm, files,
	// Application, ApplicationSet, Kustomization (Flux) or HelmRelease.
	Kind string `json:"kind"`
	// Source is the file declaring an Argo CD or Flux unit.
	Source string `json:"source,omitempty"`
	Dir    string `json:"path"`

	render  string
	values  []string       // values files (helm), relative to the top
	inline  map[string]any // inline values (helm), over the files
	files   []string       // renderFiles: the files, when not a whole directory
	recurse bool           // renderFiles of Dir: its subdirectories too
	// deps are the files and directories whose change reaches the unit.
	deps []string
}

// tree is one commit's files on disk.
type tree struct {
	name string // base or head
	top  string // absolute
}

func (t tree) abs(rel string) string { return filepath.Join(t.top, filepath.FromSlash(rel)) }

func (t tree) rel(abs string) string {
	r, err := filepath.Rel(t.top, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(r)
}

func (t tree) exists(rel string) bool {
	_, err := os.Lstat(t.abs(rel))
	return err == nil
}

func (t tree) isDir(rel string) bool {
	info, err := os.Stat(t.abs(rel))
	return err == nil && info.IsDir()
}

// discoverUnits finds the units of one tree under paths (relative to the
// top) as validate-config does, then those Argo CD and Flux objects
// declare. A directory an Argo CD or Flux object deploys is that unit,
// not a unit of its own as well.
func discoverUnits(cfg Config, t tree, paths []string, roots *render.Roots) ([]*unit, error) {
	var abs []string
	for _, p := range paths {
		if t.exists(p) {
			abs = append(abs, t.abs(p))
		}
	}
	if len(abs) == 0 {
		return nil, nil
	}
	var ignore []string
	for _, g := range cfg.Ignore {
		ignore = append(ignore, g, filepath.ToSlash(filepath.Join(t.top, g)))
	}
	var values []string
	for _, v := range cfg.HelmValues {
		values = append(values, t.abs(v))
	}
	found, err := validate.DiscoverUnits(abs, values, ignore, roots)
	if err != nil {
		return nil, err
	}
	apps, err := appUnits(t, abs, ignore)
	if err != nil {
		return nil, err
	}
	deployed := map[string]bool{}
	for _, a := range apps {
		deployed[a.Dir] = true
	}
	var units []*unit
	for _, k := range slices.Concat(found.Kustomizations, found.Components) {
		if d := t.rel(k); !deployed[d] {
			units = append(units, &unit{Name: d, Kind: renderKustomize, Dir: d, render: renderKustomize})
		}
	}
	for _, c := range found.Charts {
		if d := t.rel(c); !deployed[d] {
			units = append(units, &unit{Name: d, Kind: renderHelm, Dir: d, render: renderHelm, values: cfg.HelmValues})
		}
	}
	byDir := map[string]*unit{}
	for _, f := range found.Files {
		rel := t.rel(f)
		d := filepath.ToSlash(filepath.Dir(rel))
		if deployed[d] {
			continue
		}
		u := byDir[d]
		if u == nil {
			u = &unit{Name: d, Kind: renderFiles, Dir: d, render: renderFiles}
			byDir[d] = u
			units = append(units, u)
		}
		u.files = append(u.files, rel)
	}
	units = append(units, apps...)
	names := map[string]int{}
	for _, u := range units {
		if n := names[u.Name]; n > 0 {
			// Two units of one name (an app and a directory): both kept.
			u.Name += " (" + u.Kind + ")"
		}
		names[u.Name]++
		u.deps = unitDeps(t, roots, u)
	}
	return units, nil
}

// unitDeps are the files and directories a unit reads: the unit's own
// directory, and for kustomize every directory and file its
// kustomization names, followed through bases and components, plus any
// other existing path it names (generator files, chart homes). It may
// name more than kustomize reads, never less.
func unitDeps(t tree, roots *render.Roots, u *unit) []string {
	var deps []string
	if u.Source != "" {
		deps = append(deps, u.Source)
	}
	deps = append(deps, u.values...)
	switch u.render {
	case renderKustomize:
		seen := map[string]bool{}
		var walk func(dir string)
		walk = func(dir string) {
			if seen[dir] {
				return
			}
			seen[dir] = true
			deps = append(deps, dir)
			absDir := t.abs(dir)
			if h := validate.HelmChartHome(roots, absDir); h != "" {
				deps = append(deps, t.rel(h))
			}
			for _, ref := range slices.Concat(validate.KustomizationRefs(roots, absDir), namedPaths(absDir)) {
				rel := t.rel(ref)
				if strings.HasPrefix(rel, "..") {
					continue
				}
				if hasKustomization(ref) {
					walk(rel)
					continue
				}
				deps = append(deps, rel)
			}
		}
		walk(u.Dir)
	case renderFiles:
		if u.files != nil {
			deps = append(deps, u.files...)
		} else {
			deps = append(deps, u.Dir)
		}
	default:
		deps = append(deps, u.Dir)
	}
	slices.Sort(deps)
	return slices.Compact(deps)
}

func hasKustomization(dir string) bool {
	for _, k := range render.KustomizationFiles {
		if info, err := os.Stat(filepath.Join(dir, k)); err == nil && !info.IsDir() {
			return true
		}
	}
	return false
}

// namedPaths are the existing paths that the scalars of the
// kustomization in dir name, key=path forms included.
func namedPaths(dir string) []string {
	var b []byte
	for _, k := range render.KustomizationFiles {
		if data, err := os.ReadFile(filepath.Join(dir, k)); err == nil {
			b = data
			break
		}
	}
	var doc any
	if yaml.Unmarshal(b, &doc) != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		case string:
			s := t
			if i := strings.Index(s, "="); i >= 0 && !strings.Contains(s[:i], "/") {
				s = s[i+1:]
			}
			if s == "" || strings.Contains(s, "\n") || render.IsRemote(s) || filepath.IsAbs(s) {
				return
			}
			p := filepath.Join(dir, s)
			if _, err := os.Lstat(p); err == nil && p != dir {
				out = append(out, p)
			}
		}
	}
	walk(doc)
	return out
}

// reaches reports whether a change of file touches one of deps.
func reaches(deps []string, file string) bool {
	for _, d := range deps {
		if d == "." || file == d || strings.HasPrefix(file, d+"/") {
			return true
		}
	}
	return false
}

// yamlFiles lists the YAML files below the roots, skipping .git and
// ignored paths.
func yamlFiles(roots, ignore []string) ([]string, error) {
	var out []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ignoredPath(ignore, p) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if d.Name() == ".git" && p != root {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".yaml", ".yml":
				if d.Type().IsRegular() {
					out = append(out, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// decodeDocs decodes a multi-document YAML stream into its mappings.
func decodeDocs(b []byte) ([]map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []map[string]any
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		switch t := doc.(type) {
		case map[string]any:
			if items, ok := t["items"].([]any); ok && strings.HasSuffix(str(t, "kind"), "List") {
				for _, it := range items {
					if m, ok := it.(map[string]any); ok {
						out = append(out, m)
					}
				}
				continue
			}
			out = append(out, t)
		case nil:
		}
	}
}

// str reads a string at a path of keys, "" when absent.
func str(v any, keys ...string) string {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	s, _ := v.(string)
	return s
}
