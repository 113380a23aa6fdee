package validate

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/render"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// plan is what discovery found under the input paths.
type plan struct {
	files          []string // read as plain multi-document YAML
	kustomizations []string // rendered with kustomize (not reached from another)
	components     []string // kustomize Components no kustomization includes
	charts         []string // rendered with Helm
	skippedFiles   int      // not resources by name: kustomization.yaml, Chart.yaml, values, workflows
	outside        []report.Finding
}

// nonResourceNames are files that are never Kubernetes objects.
var nonResourceNames = append(slices.Clone(render.KustomizationFiles), "Chart.yaml", "Chart.lock", "values.yaml", "values.yml", "values.schema.json")

func isYAML(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func slash(p string) string { return filepath.ToSlash(filepath.Clean(p)) }

// discover walks the paths and sorts what it finds into plain files,
// kustomizations and charts. Files that a kustomization or chart owns
// are checked through its rendering, once.
func discover(cfg Config, roots *render.Roots) (*plan, error) {
	var files []string
	kdirs := map[string]bool{}
	cdirs := map[string]bool{}
	seen := map[string]bool{}
	valuesFiles := map[string]bool{}
	for _, v := range cfg.HelmValues {
		valuesFiles[slash(v)] = true
	}
	p := &plan{}
	for _, root := range cfg.Paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, usageErr("path", "%q: %w", root, err)
		}
		if _, err := roots.Resolve(root); err != nil {
			p.outside = append(p.outside, outsideFindings(err)...)
			continue
		}
		if !info.IsDir() {
			if !seen[slash(root)] {
				seen[slash(root)] = true
				files = append(files, slash(root))
			}
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel := slash(path)
			if d.Type()&fs.ModeSymlink != 0 && path != root {
				// Directory links are not walked; any link is read only
				// when it stays inside the repository.
				if _, err := roots.Resolve(path); err != nil {
					if !ignored(cfg.Ignore, rel) {
						p.outside = append(p.outside, outsideFindings(err)...)
					}
					return nil
				}
			}
			if d.IsDir() {
				name := d.Name()
				if path != root && (name == ".git" || name == "node_modules" || name == ".github") || ignored(cfg.Ignore, rel) {
					return filepath.SkipDir
				}
				for _, k := range render.KustomizationFiles {
					if isKustomizeFile(roots, filepath.Join(path, k)) {
						kdirs[rel] = true
					}
				}
				if _, err := os.Stat(filepath.Join(path, "Chart.yaml")); err == nil {
					cdirs[rel] = true
				}
				return nil
			}
			if !isYAML(path) || seen[rel] || ignored(cfg.Ignore, rel) {
				return nil
			}
			seen[rel] = true
			files = append(files, rel)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walking %q: %w", root, err)
		}
	}

	owned := map[string]bool{} // files checked through a rendering
	underChart := func(f string) bool {
		for c := range cdirs {
			if f == c || strings.HasPrefix(f, c+"/") || c == "." {
				return true
			}
		}
		return false
	}
	if cfg.Render == "auto" {
		referenced := map[string]bool{}
		for d := range kdirs {
			for _, ref := range kustomizationRefs(roots, d) {
				if kdirs[ref] {
					referenced[ref] = true
					continue
				}
				owned[ref] = true
				// A plain directory of resources is owned whole.
				for _, f := range files {
					if strings.HasPrefix(f, ref+"/") {
						owned[f] = true
					}
				}
			}
			for _, f := range files {
				if filepath.ToSlash(filepath.Dir(f)) == d {
					owned[f] = true
				}
			}
		}
		// A base reached from an overlay is checked as rendered there,
		// and its plain files are owned by it. A Component cannot be built
		// alone: it patches what the kustomization including it holds.
		for d := range kdirs {
			component := isComponent(roots, d)
			switch {
			case component && !referenced[d]:
				// Perhaps included from elsewhere (a Flux Kustomization's
				// spec.components): checked alone if it builds alone.
				p.components = append(p.components, d)
			case !component && !referenced[d]:
				p.kustomizations = append(p.kustomizations, d)
			}
		}
		var homes []string
		for d := range kdirs {
			if h := helmChartHome(roots, d); h != "" {
				homes = append(homes, h)
			}
		}
		for c := range cdirs {
			// A chart a kustomization's helmCharts vendors renders there.
			if !vendoredSubchart(cdirs, c) && !libraryChart(roots, c) && !slices.ContainsFunc(homes, func(h string) bool { return strings.HasPrefix(c, h+"/") }) {
				p.charts = append(p.charts, c)
			}
		}
		slices.Sort(p.kustomizations)
		slices.Sort(p.components)
		slices.Sort(p.charts)
	}
	for _, f := range files {
		base := filepath.Base(f)
		switch {
		case slices.Contains(render.KustomizationFiles, base) && !isKustomizeFile(roots, f):
			// A Flux Kustomization saved as kustomization.yaml is a resource.
			p.files = append(p.files, f)
		case slices.Contains(nonResourceNames, base), valuesFiles[f],
			strings.HasPrefix(f, ".github/") || strings.Contains(f, "/.github/"):
			p.skippedFiles++
		case owned[f]:
		case underChart(f):
			// Templates are not YAML until rendered; with render none they
			// are left alone, and with auto the chart renders them.
			if cfg.Render != "auto" && !strings.Contains(f, "/templates/") {
				p.files = append(p.files, f)
			}
		default:
			p.files = append(p.files, f)
		}
	}
	return p, nil
}

// vendoredSubchart reports whether chart dir c sits in another chart's
// charts/: it renders through that parent, with the parent's values and
// conditions, never alone.
func vendoredSubchart(cdirs map[string]bool, c string) bool {
	for d := filepath.Dir(c); d != "." && d != "/"; d = filepath.Dir(d) {
		if filepath.Base(d) == "charts" && cdirs[slash(filepath.Dir(d))] {
			return true
		}
	}
	return false
}

// libraryChart reports whether the chart in dir is a library chart
// (type: library, as Bitnami's common): it only gives templates to the
// charts that depend on it and renders nothing alone.
func libraryChart(roots *render.Roots, dir string) bool {
	b, err := roots.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return false
	}
	var c struct {
		Type string `yaml:"type"`
	}
	return yaml.Unmarshal(b, &c) == nil && c.Type == "library"
}

// helmChartHome is the chartHome of a kustomization in dir that has
// helmCharts, cleaned relative to the current directory, or "".
func helmChartHome(roots *render.Roots, dir string) string {
	b, err := roots.ReadFile(kustomizationFile(dir))
	if err != nil {
		return ""
	}
	var k struct {
		HelmCharts  []any `yaml:"helmCharts"`
		HelmGlobals struct {
			ChartHome string `yaml:"chartHome"`
		} `yaml:"helmGlobals"`
	}
	if yaml.Unmarshal(b, &k) != nil || len(k.HelmCharts) == 0 {
		return ""
	}
	home := k.HelmGlobals.ChartHome
	if home == "" {
		home = "charts"
	}
	return slash(filepath.Join(dir, home))
}

func ignored(globs []string, rel string) bool {
	for _, g := range globs {
		if ok, _ := doublestar.Match(g, rel); ok {
			return true
		}
		if ok, _ := doublestar.Match(g, filepath.Base(rel)); ok {
			return true
		}
	}
	return false
}

// kustomizationRefs lists the local files and directories a
// kustomization in dir names (resources, bases, components, patches,
// generators), cleaned relative to the current directory.
func kustomizationRefs(roots *render.Roots, dir string) []string {
	var b []byte
	for _, k := range render.KustomizationFiles {
		if data, err := roots.ReadFile(filepath.Join(dir, k)); err == nil {
			b = data
			break
		}
	}
	var k struct {
		Resources             []string `yaml:"resources"`
		Bases                 []string `yaml:"bases"`
		Components            []string `yaml:"components"`
		Crds                  []string `yaml:"crds"`
		PatchesStrategicMerge []string `yaml:"patchesStrategicMerge"`
		Patches               []struct {
			Path string `yaml:"path"`
		} `yaml:"patches"`
		PatchesJSON6902 []struct {
			Path string `yaml:"path"`
		} `yaml:"patchesJson6902"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		return nil
	}
	var refs []string
	add := func(r string) {
		if r == "" || render.IsRemote(r) || strings.Contains(r, "\n") {
			return
		}
		refs = append(refs, slash(filepath.Join(dir, r)))
	}
	for _, list := range [][]string{k.Resources, k.Bases, k.Components, k.Crds, k.PatchesStrategicMerge} {
		for _, r := range list {
			add(r)
		}
	}
	for _, p := range k.Patches {
		add(p.Path)
	}
	for _, p := range k.PatchesJSON6902 {
		add(p.Path)
	}
	return refs
}

// isKustomizeFile reports whether path is a kustomize kustomization, not
// a Flux Kustomization object that happens to share the name.
func isKustomizeFile(roots *render.Roots, path string) bool {
	b, err := roots.ReadFile(path)
	return err == nil && kustomizeContent(b)
}

// isComponent reports whether the kustomization in dir is a kustomize
// Component (kind: Component), which only another kustomization renders.
func isComponent(roots *render.Roots, dir string) bool {
	b, err := roots.ReadFile(kustomizationFile(dir))
	if err != nil {
		return false
	}
	var head struct {
		Kind string `yaml:"kind"`
	}
	_ = yaml.Unmarshal(b, &head)
	return head.Kind == "Component"
}

func kustomizeContent(b []byte) bool {
	var head struct {
		APIVersion string `yaml:"apiVersion"`
	}
	_ = yaml.Unmarshal(b, &head)
	return head.APIVersion == "" || strings.HasPrefix(head.APIVersion, "kustomize.config.k8s.io/")
}
