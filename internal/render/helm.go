package render

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Template is one rendered Helm template file.
type Template struct {
	// Source is the template file, relative to the current directory.
	Source string
	// Text is the template's source text, for locating objects in it.
	Text string
	// Rendered is the output: a multi-document YAML stream.
	Rendered string
}

// Cluster is the target cluster as charts see it in .Capabilities.
type Cluster struct {
	// KubeVersion is the target version ("1.33.0"); empty is Helm's default.
	KubeVersion string
	// APIs are the served "group/version/Kind"s ("apps/v1/Deployment",
	// "v1/Pod"): built in and from CRDs. Empty is Helm's default set.
	APIs []string
}

// Helm renders the chart in dir as `helm template` would, with the values
// files merged in order over the chart's defaults, against cluster. The
// chart and values files are read only inside roots.
func Helm(dir string, valuesFiles []string, cluster Cluster, roots *Roots) ([]Template, error) {
	ch, err := loadChart(dir, roots)
	if err != nil {
		return nil, fmt.Errorf("loading chart %q: %w", dir, err)
	}
	stabiliseRandom(ch)
	vals := map[string]any{}
	for _, f := range valuesFiles {
		b, err := roots.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading values %q: %w", f, err)
		}
		v, err := chartutil.ReadValues(b)
		if err != nil {
			return nil, fmt.Errorf("reading values %q: %w", f, err)
		}
		vals = mergeValues(vals, v.AsMap())
	}
	caps, err := cluster.capabilities()
	if err != nil {
		return nil, err
	}
	out, err := renderChart(ch, vals, chartutil.ReleaseOptions{Name: "release-name", Namespace: "default", Revision: 1, IsInstall: true}, caps)
	if err != nil {
		if errors.Is(err, errValues) {
			return nil, fmt.Errorf("chart %q %w", dir, err)
		}
		return nil, err
	}
	sources := map[string]string{}
	collectTemplates(ch.Name(), ch, sources)
	var ts []Template
	for _, name := range slices.Sorted(maps.Keys(out)) {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || strings.HasSuffix(base, ".txt") || strings.TrimSpace(out[name]) == "" {
			continue
		}
		rel := strings.TrimPrefix(name, ch.Name()+"/")
		ts = append(ts, Template{Source: filepath.ToSlash(filepath.Join(dir, rel)), Text: sources[name], Rendered: out[name]})
	}
	for _, crd := range ch.CRDObjects() {
		rel := strings.TrimPrefix(crd.Filename, ch.Name()+"/")
		ts = append(ts, Template{Source: filepath.ToSlash(filepath.Join(dir, rel)), Text: string(crd.File.Data), Rendered: string(crd.File.Data)})
	}
	return ts, nil
}

var errValues = errors.New("values")

// renderChart renders a loaded chart with user values vals, as helm
// template does once the chart and values are read.
func renderChart(ch *chart.Chart, vals map[string]any, opts chartutil.ReleaseOptions, caps *chartutil.Capabilities) (map[string]string, error) {
	if err := checkDependencies(ch); err != nil {
		return nil, err
	}
	// As helm template: conditions and tags drop subcharts, import-values
	// lift their values.
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, fmt.Errorf("dependencies: %w", err)
	}
	rv, err := chartutil.ToRenderValues(ch, vals, opts, caps)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errValues, err)
	}
	return engine.Render(ch, rv)
}

// capabilities holds, for each "group/version/Kind" of c.APIs, both
// that and "group/version", the two forms charts test with
// .Capabilities.APIVersions.Has. Helm's default set, the API groups
// compiled into it whatever the target, is replaced: with it a chart
// would take an API the target no longer serves, or miss a CRD's.
func (c Cluster) capabilities() (*chartutil.Capabilities, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	if c.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(c.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("kubernetes version %q: %w", c.KubeVersion, err)
		}
		caps.KubeVersion = *kv
	}
	if len(c.APIs) > 0 {
		set := map[string]bool{}
		for _, a := range c.APIs {
			set[a] = true
			// "apps/v1/Deployment" and "v1/Pod" name a kind; a plain
			// "group/version" (as kustomize's apiVersions may) has none.
			if i := strings.LastIndex(a, "/"); i > 0 && i+1 < len(a) && unicode.IsUpper(rune(a[i+1])) {
				set[a[:i]] = true
			}
		}
		caps.APIVersions = slices.Sorted(maps.Keys(set))
	}
	return caps, nil
}

// checkDependencies fails, as helm template does, for a dependency in
// Chart.yaml with no chart of its name under charts/, whatever its
// condition: otherwise its objects would be silently missing. Like Helm,
// it matches by name, so a vendored chart of another version passes.
func checkDependencies(ch *chart.Chart) error {
	var missing []string
	for _, r := range ch.Metadata.Dependencies {
		if !slices.ContainsFunc(ch.Dependencies(), func(d *chart.Chart) bool { return d.Name() == r.Name }) {
			missing = append(missing, fmt.Sprintf("%s %s", r.Name, r.Version))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s (vendor it with `helm dependency build` and commit charts/)", strings.Join(missing, ", "))
	}
	return nil
}

// collectTemplates maps each template's render name (chart/templates/x,
// chart/charts/sub/templates/y) to its source text.
func collectTemplates(prefix string, ch *chart.Chart, into map[string]string) {
	for _, t := range ch.Templates {
		into[prefix+"/"+t.Name] = string(t.Data)
	}
	for _, d := range ch.Dependencies() {
		collectTemplates(prefix+"/charts/"+d.Name(), d, into)
	}
}

// mergeValues merges src over dst the way repeated -f flags do: maps
// merge key by key, anything else is replaced.
func mergeValues(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}
