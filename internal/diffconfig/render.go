package diffconfig

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/render"
)

// renderer renders units of either tree in bounded child processes.
type renderer struct {
	runner  *render.Runner
	roots   *render.Roots
	cluster render.Cluster
	// scratch holds inline values written out for Helm.
	scratch string
	n       atomic.Int64
}

// renderUnit renders u as it is in t: its objects, and their YAML as
// rendered (for validate-config's checks).
func (r *renderer) renderUnit(ctx context.Context, t tree, u *unit) ([]map[string]any, error) {
	switch u.render {
	case renderKustomize:
		objs, err := r.runner.Kustomize(ctx, t.abs(u.Dir), r.cluster)
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", u.Dir, relErr(t, err))
		}
		var out []map[string]any
		for _, o := range objs {
			docs, err := decodeDocs(o.YAML)
			if err != nil {
				return nil, fmt.Errorf("kustomize build %s: decoding output: %w", u.Dir, err)
			}
			out = append(out, docs...)
		}
		return out, nil
	case renderHelm:
		var values []string
		for _, v := range u.values {
			values = append(values, t.abs(v))
		}
		if len(u.inline) > 0 {
			f, err := r.writeValues(u.inline)
			if err != nil {
				return nil, err
			}
			values = append(values, f)
		}
		ts, err := r.runner.Helm(ctx, t.abs(u.Dir), values, r.cluster)
		if err != nil {
			return nil, fmt.Errorf("helm template %s: %w", u.Dir, relErr(t, err))
		}
		var out []map[string]any
		for _, tm := range ts {
			docs, err := decodeDocs([]byte(tm.Rendered))
			if err != nil {
				return nil, fmt.Errorf("helm template %s: %s: %w", u.Dir, t.rel(tm.Source), err)
			}
			out = append(out, docs...)
		}
		return out, nil
	default:
		files := u.files
		if files == nil {
			var err error
			if files, err = dirFiles(t, u.Dir, u.recurse); err != nil {
				return nil, err
			}
		}
		var out []map[string]any
		for _, f := range files {
			b, err := r.roots.ReadFile(t.abs(f))
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", f, relErr(t, err))
			}
			docs, err := decodeDocs(b)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", f, err)
			}
			for _, d := range docs {
				// A kustomization.yaml of kustomize is not a resource.
				if str(d, "kind") == "" && str(d, "apiVersion") == "" {
					continue
				}
				if strings.HasPrefix(str(d, "apiVersion"), "kustomize.config.k8s.io/") {
					continue
				}
				out = append(out, d)
			}
		}
		return out, nil
	}
}

// dirFiles are the YAML files of dir, with its subdirectories when
// recurse is set.
func dirFiles(t tree, dir string, recurse bool) ([]string, error) {
	abs, err := yamlFiles([]string{t.abs(dir)}, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range abs {
		rel := t.rel(a)
		if !recurse && filepath.ToSlash(filepath.Dir(rel)) != dir {
			continue
		}
		out = append(out, rel)
	}
	return out, nil
}

func (r *renderer) writeValues(v map[string]any) (string, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding inline values: %w", err)
	}
	f := filepath.Join(r.scratch, fmt.Sprintf("values-%d.yaml", r.n.Add(1)))
	if err := os.WriteFile(f, b, 0o600); err != nil {
		return "", err
	}
	return f, nil
}

// relErr drops the tree's location from an error's text: the report
// speaks of paths in the repository.
func relErr(t tree, err error) error {
	return &treeError{msg: strings.ReplaceAll(err.Error(), t.top+string(filepath.Separator), ""), err: err}
}

type treeError struct {
	msg string
	err error
}

func (e *treeError) Error() string { return e.msg }
func (e *treeError) Unwrap() error { return e.err }
