package render

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Object is one rendered manifest and where it came from.
type Object struct {
	YAML []byte
	// Source is the file the object was read from, relative to the
	// current directory with forward slashes; empty when unknown.
	Source string
	// Generated is set when the object was made by a generator (Source is
	// then the kustomization that configured it).
	Generated bool
}

// KustomizationFiles are the names kustomize looks for in a directory.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Kustomize builds the kustomization in dir, as `kustomize build` does,
// with origin annotations turned on so every object names its file.
func Kustomize(dir string) ([]Object, error) {
	fs := originFS{FileSystem: filesys.MakeFsOnDisk(), root: filepath.Clean(dir)}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(fs, dir)
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, r := range m.Resources() {
		o := Object{}
		if origin, err := r.GetOrigin(); err == nil && origin != nil {
			switch {
			case origin.Repo != "":
				// Remote bases cannot be traced to a local line.
			case origin.Path != "":
				o.Source = filepath.ToSlash(filepath.Join(dir, origin.Path))
			case origin.ConfiguredIn != "":
				o.Source = filepath.ToSlash(filepath.Join(dir, origin.ConfiguredIn))
				o.Generated = true
			}
		}
		out = append(out, o)
	}
	if err := m.RemoveOriginAnnotations(); err != nil {
		return nil, fmt.Errorf("removing origin annotations: %w", err)
	}
	for i, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", r.CurId(), err)
		}
		out[i].YAML = b
	}
	return out, nil
}

// originFS adds buildMetadata: [originAnnotations] to the top
// kustomization as it is read, leaving the file on disk alone.
type originFS struct {
	filesys.FileSystem
	root string
}

func (f originFS) ReadFile(path string) ([]byte, error) {
	b, err := f.FileSystem.ReadFile(path)
	if err != nil || filepath.Dir(filepath.Clean(path)) != f.root && filepath.Dir(filepath.Clean(path)) != absOr(f.root) {
		return b, err
	}
	if !slices.Contains(KustomizationFiles, filepath.Base(path)) {
		return b, nil
	}
	var k map[string]any
	if err := yaml.Unmarshal(b, &k); err != nil || k == nil {
		// Let kustomize report the syntax error itself.
		return b, nil
	}
	meta, _ := k["buildMetadata"].([]any)
	if slices.Contains(meta, any(types.OriginAnnotations)) {
		return b, nil
	}
	k["buildMetadata"] = append(meta, types.OriginAnnotations)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(k); err != nil {
		return b, nil
	}
	return buf.Bytes(), nil
}

func absOr(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
