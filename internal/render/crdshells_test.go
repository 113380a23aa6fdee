package render

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const shellCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        description: "a long description that goes on and on past the eighty columns a YAML printer may fold at, to see that nothing is folded differently"
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, maximum: 10, default: 1.0}
              mode: {type: string, enum: ["on", "off", yes]}
              when: {type: string, example: 2021-01-01}
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// CRD schemas shelled while kustomize builds come back as kustomize
// itself prints them: the objects are the bytes a plain build gives,
// and shelling is off where a kustomization could reach into a schema.
func TestKustomizeShelledCRDsMatchKustomize(t *testing.T) {
	for name, overlay := range map[string]string{
		"prefix and labels": "resources: [../base]\nnamePrefix: p-\ncommonLabels: {team: a}\nimages: [{name: nginx, newTag: '2'}]\npatches:\n- path: patch.yaml\n",
		"patch on the CRD":  "resources: [../base]\npatches:\n- target: {kind: CustomResourceDefinition}\n  patch: |-\n    - op: replace\n      path: /spec/versions/0/schema/openAPIV3Schema/type\n      value: string\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := write(t, map[string]string{
				"base/kustomization.yaml":    "resources: [crd.yaml, deploy.yaml]\n",
				"base/crd.yaml":              shellCRD + "---\n" + strings.ReplaceAll(shellCRD, "widgets", "gadgets"),
				"base/deploy.yaml":           "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: nginx}]\n",
				"overlay/kustomization.yaml": overlay,
				"overlay/patch.yaml":         "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 3}\n",
			})
			overlayDir := filepath.Join(dir, "overlay")
			want := plainBuild(t, overlayDir)
			shells.Lock()
			before := len(shells.objects)
			shells.Unlock()
			for round := range 2 { // the second one from the cache
				objs, err := Kustomize(context.Background(), overlayDir, KustomizeOptions{Roots: roots(t, dir)})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, o := range objs {
					got = append(got, string(o.YAML))
				}
				if g, w := strings.Join(got, "---\n"), strings.Join(want, "---\n"); g != w {
					t.Fatalf("round %d: shelled build differs from kustomize's:\n%s\nwant:\n%s", round, g, w)
				}
				if strings.Contains(strings.Join(got, ""), shellPrefix) {
					t.Fatalf("a placeholder is left in the output")
				}
			}
			shells.Lock()
			after := len(shells.objects)
			shells.Unlock()
			if shelled := after > before; shelled != (name == "prefix and labels") {
				t.Errorf("schemas shelled: %v", shelled)
			}
		})
	}
}

func plainBuild(t *testing.T, dir string) []string {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// The shelled file handed to kustomize holds placeholders only where
// the plan allows.
func TestShellPlan(t *testing.T) {
	dir := write(t, map[string]string{
		"ok/kustomization.yaml":     "resources: [crd.yaml]\nnamePrefix: x-\n",
		"ok/crd.yaml":               shellCRD,
		"custom/kustomization.yaml": "resources: [crd.yaml]\nconfigurations: [c.yaml]\n",
		"repl/kustomization.yaml":   "resources: [crd.yaml]\nreplacements: []\n",
	})
	read := func(p string) ([]byte, error) { return os.ReadFile(p) }
	if p := shellPlan(filepath.Join(dir, "ok"), read); !p[filepath.Join(dir, "ok", "crd.yaml")] {
		t.Errorf("plain kustomization: crd.yaml not shellable: %v", p)
	}
	for _, d := range []string{"custom", "repl"} {
		if p := shellPlan(filepath.Join(dir, d), read); p != nil {
			t.Errorf("%s: shellable %v", d, p)
		}
	}
}
