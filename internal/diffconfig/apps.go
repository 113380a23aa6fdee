package diffconfig

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/gitops-actions/gitops-actions/internal/validate"
)

func ignoredPath(globs []string, p string) bool { return validate.Ignored(globs, filepath.ToSlash(p)) }

// appUnits are the units Argo CD Applications and ApplicationSets (list
// and git directory generators) and Flux Kustomizations and HelmReleases
// under roots deploy from this repository: one per application, named
// after it. Sources in other repositories (a path that is not in the
// tree, a Helm repository chart) are left out.
func appUnits(t tree, roots, ignore []string) ([]*unit, error) {
	files, err := yamlFiles(roots, ignore)
	if err != nil {
		return nil, err
	}
	var units []*unit
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(b, []byte("argoproj.io")) && !bytes.Contains(b, []byte("toolkit.fluxcd.io")) {
			continue
		}
		docs, err := decodeDocs(b)
		if err != nil {
			// Not ours to judge: validate-config reports the syntax.
			continue
		}
		src := t.rel(f)
		for _, d := range docs {
			api, kind := str(d, "apiVersion"), str(d, "kind")
			switch {
			case strings.HasPrefix(api, "argoproj.io/") && kind == "Application":
				units = append(units, argoUnits(t, src, d, "Application")...)
			case strings.HasPrefix(api, "argoproj.io/") && kind == "ApplicationSet":
				for _, app := range expandAppSet(t, d) {
					units = append(units, argoUnits(t, src, app, "ApplicationSet")...)
				}
			case strings.HasPrefix(api, "kustomize.toolkit.fluxcd.io/") && kind == "Kustomization":
				if u := fluxKustomization(t, src, d); u != nil {
					units = append(units, u)
				}
			case strings.HasPrefix(api, "helm.toolkit.fluxcd.io/") && kind == "HelmRelease":
				if u := fluxHelmRelease(t, src, d); u != nil {
					units = append(units, u)
				}
			}
		}
	}
	return units, nil
}

// localDir cleans a path written relative to the repository's top and
// says whether it is a directory of the tree.
func localDir(t tree, p string) (string, bool) {
	p = path.Clean("/" + strings.TrimSpace(p))[1:]
	if p == "" {
		p = "."
	}
	return p, t.isDir(p)
}

func argoUnits(t tree, src string, app map[string]any, kind string) []*unit {
	name := str(app, "metadata", "name")
	spec, _ := app["spec"].(map[string]any)
	var sources []map[string]any
	if s, ok := spec["source"].(map[string]any); ok {
		sources = append(sources, s)
	}
	for _, s := range asList(spec["sources"]) {
		if m, ok := s.(map[string]any); ok {
			sources = append(sources, m)
		}
	}
	// $ref/values.yaml names a file of another source (this repository).
	refs := map[string]bool{}
	for _, s := range sources {
		if r := str(s, "ref"); r != "" {
			refs[r] = true
		}
	}
	var units []*unit
	for i, s := range sources {
		if str(s, "chart") != "" || str(s, "path") == "" {
			continue
		}
		dir, ok := localDir(t, str(s, "path"))
		if !ok {
			continue
		}
		u := &unit{Name: name, Kind: kind, Source: src, Dir: dir}
		if len(sources) > 1 {
			u.Name = fmt.Sprintf("%s[%d]", name, i)
		}
		switch {
		case hasKustomization(t.abs(dir)):
			u.render = renderKustomize
		case t.exists(path.Join(dir, "Chart.yaml")):
			u.render = renderHelm
			helm, _ := s["helm"].(map[string]any)
			for _, v := range asList(helm["valueFiles"]) {
				vf, _ := v.(string)
				if r, rest, ok := strings.Cut(vf, "/"); ok && strings.HasPrefix(r, "$") && refs[r[1:]] {
					u.values = append(u.values, path.Clean(rest))
				} else if vf != "" {
					u.values = append(u.values, path.Join(dir, vf))
				}
			}
			u.inline = inlineValues(helm["valuesObject"], helm["values"])
		default:
			u.render = renderFiles
			dirOpts, _ := s["directory"].(map[string]any)
			u.recurse, _ = dirOpts["recurse"].(bool)
		}
		units = append(units, u)
	}
	return units
}

// inlineValues are Helm values written in an object: a map, or YAML text.
func inlineValues(obj, text any) map[string]any {
	if m, ok := obj.(map[string]any); ok && len(m) > 0 {
		return m
	}
	if s, ok := text.(string); ok && strings.TrimSpace(s) != "" {
		if docs, err := decodeDocs([]byte(s)); err == nil && len(docs) == 1 {
			return docs[0]
		}
	}
	return nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

// expandAppSet makes the Applications of an ApplicationSet's list and git
// directory generators; other generators are not followed.
func expandAppSet(t tree, set map[string]any) []map[string]any {
	spec, _ := set["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	if tmpl == nil {
		return nil
	}
	var params []map[string]string
	for _, g := range asList(spec["generators"]) {
		gm, _ := g.(map[string]any)
		if list, ok := gm["list"].(map[string]any); ok {
			for _, e := range asList(list["elements"]) {
				if em, ok := e.(map[string]any); ok {
					p := map[string]string{}
					flatten("", em, p)
					params = append(params, p)
				}
			}
		}
		if git, ok := gm["git"].(map[string]any); ok {
			params = append(params, gitDirectoryParams(t, git)...)
		}
	}
	var apps []map[string]any
	for _, p := range params {
		app, _ := substitute(tmpl, p).(map[string]any)
		if app != nil {
			apps = append(apps, app)
		}
	}
	return apps
}

func flatten(prefix string, m map[string]any, into map[string]string) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch t := v.(type) {
		case map[string]any:
			flatten(key, t, into)
		case string:
			into[key] = t
		default:
			into[key] = fmt.Sprint(t)
		}
	}
}

var normalizeName = regexp.MustCompile(`[^a-zA-Z0-9-.]+`)

// gitDirectoryParams are the parameters of a git generator's
// directories, matched in the tree, in both the plain and the Go
// template forms.
func gitDirectoryParams(t tree, git map[string]any) []map[string]string {
	var include, exclude []string
	for _, d := range asList(git["directories"]) {
		dm, _ := d.(map[string]any)
		p := str(dm, "path")
		if p == "" {
			continue
		}
		if ex, _ := dm["exclude"].(bool); ex {
			exclude = append(exclude, p)
		} else {
			include = append(include, p)
		}
	}
	if len(include) == 0 {
		return nil
	}
	var dirs []string
	_ = filepath.WalkDir(t.top, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == ".git" {
			return filepath.SkipDir
		}
		rel := t.rel(p)
		match := func(globs []string) bool {
			return slices.ContainsFunc(globs, func(g string) bool { ok, _ := doublestar.Match(g, rel); return ok })
		}
		if rel != "." && match(include) && !match(exclude) {
			dirs = append(dirs, rel)
		}
		return nil
	})
	var out []map[string]string
	for _, d := range dirs {
		base := path.Base(d)
		p := map[string]string{
			"path": d, "path.path": d, "path.basename": base,
			"path.basenameNormalized": normalizeName.ReplaceAllString(base, "-"),
		}
		for i, seg := range strings.Split(d, "/") {
			p["path["+strconv.Itoa(i)+"]"] = seg
			p["path.segments["+strconv.Itoa(i)+"]"] = seg
		}
		out = append(out, p)
	}
	return out
}

// placeholder is {{name}} or {{ .name }}: the plain and the Go template
// forms of a parameter without functions.
var placeholder = regexp.MustCompile(`\{\{\s*\.?([A-Za-z0-9_.\[\]-]+)\s*\}\}`)

func substitute(v any, params map[string]string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, c := range t {
			out[substitute(k, params).(string)] = substitute(c, params)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = substitute(c, params)
		}
		return out
	case string:
		return placeholder.ReplaceAllStringFunc(t, func(m string) string {
			if v, ok := params[placeholder.FindStringSubmatch(m)[1]]; ok {
				return v
			}
			return m
		})
	}
	return v
}

func fluxKustomization(t tree, src string, d map[string]any) *unit {
	p := str(d, "spec", "path")
	if k := str(d, "spec", "sourceRef", "kind"); k != "" && k != "GitRepository" && k != "Bucket" {
		return nil
	}
	dir, ok := localDir(t, p)
	if !ok {
		return nil
	}
	u := &unit{Name: str(d, "metadata", "name"), Kind: "Kustomization", Source: src, Dir: dir, render: renderFiles, recurse: true}
	if hasKustomization(t.abs(dir)) {
		u.render = renderKustomize
	}
	return u
}

func fluxHelmRelease(t tree, src string, d map[string]any) *unit {
	chart, _ := d["spec"].(map[string]any)
	cs, _ := chart["chart"].(map[string]any)
	cspec, _ := cs["spec"].(map[string]any)
	if k := str(cspec, "sourceRef", "kind"); k != "GitRepository" && k != "Bucket" {
		return nil // a Helm repository's chart is not in this repository
	}
	dir, ok := localDir(t, str(cspec, "chart"))
	if !ok || !t.exists(path.Join(dir, "Chart.yaml")) {
		return nil
	}
	u := &unit{Name: str(d, "metadata", "name"), Kind: "HelmRelease", Source: src, Dir: dir, render: renderHelm}
	for _, v := range asList(cspec["valuesFiles"]) {
		if s, _ := v.(string); s != "" {
			u.values = append(u.values, path.Clean("/" + s)[1:])
		}
	}
	if vf := str(cspec, "valuesFile"); vf != "" {
		u.values = append([]string{path.Clean("/" + vf)[1:]}, u.values...)
	}
	spec, _ := d["spec"].(map[string]any)
	u.inline = inlineValues(spec["values"], nil)
	return u
}
