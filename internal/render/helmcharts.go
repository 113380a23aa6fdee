package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/kustomize/api/types"
)

// virtualDir holds, below a kustomization, the rendered output of its
// helmCharts as files kustomize reads as resources.
const virtualDir = ".gitops-actions-helmCharts"

// inflateHelmCharts renders the helmCharts of the kustomization kfile (b)
// here, with the Helm library and the chart vendored under chartHome,
// instead of kustomize's plugin, which runs a helm binary and may pull
// the chart. Each rendered template becomes a virtual resource file, so
// kustomize's transformers and patches apply to it as they would to the
// plugin's output, and the kustomization is rewritten to list those files.
func (f *confinedFS) inflateHelmCharts(kfile string, b []byte) ([]byte, error) {
	var k map[string]any
	if err := yaml.Unmarshal(b, &k); err != nil || k == nil || k["helmCharts"] == nil {
		// kustomize reports a syntax error itself.
		return b, nil
	}
	var charts []types.HelmChart
	var globals types.HelmGlobals
	if err := recode(k["helmCharts"], &charts); err != nil {
		return nil, fmt.Errorf("%s: helmCharts: %w", relToWd(kfile), err)
	}
	if g, ok := k["helmGlobals"]; ok {
		if err := recode(g, &globals); err != nil {
			return nil, fmt.Errorf("%s: helmGlobals: %w", relToWd(kfile), err)
		}
	}
	kdir := filepath.Dir(kfile)
	home := globals.ChartHome
	if home == "" {
		home = types.HelmDefaultHome
	}
	if !filepath.IsAbs(home) {
		home = filepath.Join(kdir, home)
	}
	resources, _ := k["resources"].([]any)
	for i, h := range charts {
		files, err := f.inflateChart(kfile, home, h)
		if err != nil {
			return nil, err
		}
		for _, t := range files {
			rel := path.Join(virtualDir, strconv.Itoa(i), t.rel)
			f.addVirtual(filepath.Join(kdir, filepath.FromSlash(rel)), virtualFile{data: t.data, source: t.source, text: t.text})
			resources = append(resources, rel)
		}
	}
	delete(k, "helmCharts")
	delete(k, "helmGlobals")
	k["resources"] = resources
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(k); err != nil {
		return nil, fmt.Errorf("%s: %w", relToWd(kfile), err)
	}
	return buf.Bytes(), nil
}

type inflated struct {
	rel    string // the template, relative to its chart
	source string // the template file, relative to the current directory
	data   []byte
	text   string // the template's source
}

// inflateChart renders one helmCharts entry as kustomize's plugin would
// have had helm template do it.
func (f *confinedFS) inflateChart(kfile, home string, h types.HelmChart) ([]inflated, error) {
	where := fmt.Sprintf("%s: helmCharts %q", relToWd(kfile), h.Name)
	if h.Name == "" {
		return nil, fmt.Errorf("%s: helmCharts entry has no name", relToWd(kfile))
	}
	// The plugin pulls a chart with repo and version into name-version/.
	dir := home
	if h.Version != "" && h.Repo != "" {
		dir = filepath.Join(home, h.Name+"-"+h.Version)
	}
	chartDir := filepath.Join(dir, h.Name)
	real, err := f.opts.Roots.Resolve(chartDir)
	if err != nil {
		return nil, err
	}
	if info, err := os.Stat(real); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("%s: chart is not vendored at %s: charts are rendered offline with no helm binary, so commit the chart there (%s)",
			where, relToWd(chartDir), vendorHint(h, dir))
	}
	ch, err := loadChart(chartDir, f.opts.Roots)
	if err != nil {
		return nil, fmt.Errorf("%s: loading chart %s: %w", where, relToWd(chartDir), err)
	}
	vals, err := f.helmChartValues(filepath.Dir(kfile), chartDir, h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	cluster := f.opts.Cluster
	if h.KubeVersion != "" {
		cluster.KubeVersion = h.KubeVersion
	}
	if len(h.ApiVersions) > 0 {
		if len(cluster.APIs) == 0 {
			cluster.APIs = slices.Clone(chartutil.DefaultCapabilities.APIVersions)
		}
		cluster.APIs = append(slices.Clone(cluster.APIs), h.ApiVersions...)
	}
	caps, err := cluster.capabilities()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	opts := chartutil.ReleaseOptions{Name: h.ReleaseName, Namespace: h.Namespace, Revision: 1, IsInstall: true}
	if opts.Name == "" {
		// The plugin lets helm generate a random name; a stable one keeps
		// findings the same from run to run.
		opts.Name = "release-name"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	out, err := renderChart(ch, vals, opts, caps)
	if err != nil {
		return nil, fmt.Errorf("%s: helm template failed: %w", where, err)
	}
	sources := map[string]string{}
	collectTemplates(ch.Name(), ch, sources)
	var files []inflated
	add := func(rel string, text string) error {
		data, err := keepDocs(text, h)
		if err != nil {
			return fmt.Errorf("%s: rendered %s: %w", where, rel, err)
		}
		if len(data) > 0 {
			files = append(files, inflated{rel: rel, source: relToWd(filepath.Join(chartDir, filepath.FromSlash(rel))), data: data, text: sources[ch.Name()+"/"+rel]})
		}
		return nil
	}
	if h.IncludeCRDs {
		for _, crd := range ch.CRDObjects() {
			if err := add(strings.TrimPrefix(crd.Filename, ch.Name()+"/"), string(crd.File.Data)); err != nil {
				return nil, err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(out)) {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || strings.HasSuffix(base, ".txt") {
			continue
		}
		if err := add(strings.TrimPrefix(name, ch.Name()+"/"), out[name]); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func vendorHint(h types.HelmChart, dir string) string {
	if h.Repo == "" {
		return "the entry names no repo to pull it from"
	}
	pull := "helm pull --repo " + h.Repo + " " + h.Name
	if strings.HasPrefix(h.Repo, "oci://") {
		pull = "helm pull " + strings.TrimSuffix(h.Repo, "/") + "/" + h.Name
	}
	if h.Version != "" {
		pull += " --version " + h.Version
	}
	return "`" + pull + " --untar --untardir " + relToWd(dir) + "`, or `kustomize build --enable-helm` once"
}

// helmChartValues are the values the plugin passes to helm template:
// valuesFile (the chart's values.yaml by default) with valuesInline over
// it (valuesMerge override, the default), under it (merge) or alone
// (replace), then each of additionalValuesFiles.
func (f *confinedFS) helmChartValues(kdir, chartDir string, h types.HelmChart) (map[string]any, error) {
	file := h.ValuesFile
	if file == "" {
		file = filepath.Join(chartDir, "values.yaml")
	} else if !filepath.IsAbs(file) {
		file = filepath.Join(kdir, file)
	}
	vals := map[string]any{}
	if h.ValuesMerge != "replace" || len(h.ValuesInline) == 0 {
		v, err := f.readValues(file)
		switch {
		case errors.Is(err, fs.ErrNotExist) && h.ValuesFile == "":
			// A chart without values.yaml has no defaults to pass.
		case err != nil:
			return nil, err
		default:
			vals = v
		}
	}
	if len(h.ValuesInline) > 0 {
		var inline map[string]any
		if err := recode(h.ValuesInline, &inline); err != nil {
			return nil, fmt.Errorf("valuesInline: %w", err)
		}
		switch h.ValuesMerge {
		case "", "override":
			vals = mergeValues(vals, inline)
		case "merge":
			vals = mergeValues(inline, vals)
		case "replace":
			vals = inline
		default:
			return nil, fmt.Errorf("valuesMerge must be one of override, merge, replace; got %q", h.ValuesMerge)
		}
	}
	for _, a := range h.AdditionalValuesFiles {
		if !filepath.IsAbs(a) {
			a = filepath.Join(kdir, a)
		}
		v, err := f.readValues(a)
		if err != nil {
			return nil, err
		}
		vals = mergeValues(vals, v)
	}
	return vals, nil
}

func (f *confinedFS) readValues(file string) (map[string]any, error) {
	b, err := f.opts.Roots.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading values %q: %w", relToWd(file), err)
	}
	v, err := chartutil.ReadValues(b)
	if err != nil {
		return nil, fmt.Errorf("reading values %q: %w", relToWd(file), err)
	}
	return v.AsMap(), nil
}

// keepDocs drops what helm template would leave out: hooks with
// skipHooks, test hooks with skipTests, and empty documents.
func keepDocs(text string, h types.HelmChart) ([]byte, error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	kept := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var head struct {
			Metadata struct {
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		_ = doc.Decode(&head)
		hook, isHook := head.Metadata.Annotations["helm.sh/hook"]
		if isHook && (h.SkipHooks || h.SkipTests && strings.Contains(hook, "test")) {
			continue
		}
		if err := enc.Encode(&doc); err != nil {
			return nil, err
		}
		kept++
	}
	if kept == 0 {
		// yaml.v3 fails to close an encoder that wrote nothing.
		return nil, nil
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// kindLine is the line of "kind: <kind>" in a template, 1 if absent:
// where a finding on an object it rendered points.
func kindLine(text, kind string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "kind: "+kind {
			return i + 1
		}
	}
	return 1
}

// recode converts a decoded YAML value into v through YAML.
func recode(in, v any) error {
	b, err := yaml.Marshal(in)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, v)
}
