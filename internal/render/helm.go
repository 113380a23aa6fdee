package render

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"

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

// Helm renders the chart in dir as `helm template` would, with the values
// files merged in order over the chart's defaults. kubeVersion ("1.33.0")
// fills .Capabilities.KubeVersion. The chart and values files are read
// only inside roots.
func Helm(dir string, valuesFiles []string, kubeVersion string, roots *Roots) ([]Template, error) {
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
	caps := chartutil.DefaultCapabilities.Copy()
	if kubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(kubeVersion)
		if err != nil {
			return nil, fmt.Errorf("kubernetes version %q: %w", kubeVersion, err)
		}
		caps.KubeVersion = *kv
	}
	opts := chartutil.ReleaseOptions{Name: "release-name", Namespace: "default", Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(ch, vals, opts, caps)
	if err != nil {
		return nil, fmt.Errorf("chart %q values: %w", dir, err)
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
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
