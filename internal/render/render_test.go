package render

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func roots(t *testing.T, dirs ...string) *Roots {
	t.Helper()
	r, err := NewRoots(dirs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Rendered objects name the file they came from, and the origin
// annotation used for that is not left in the output nor on disk.
func TestKustomizeOrigins(t *testing.T) {
	dir := write(t, map[string]string{
		"base/kustomization.yaml":    "resources: [cm.yaml]\n",
		"base/cm.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
		"overlay/kustomization.yaml": "resources: [../base]\nnamePrefix: p-\nconfigMapGenerator:\n  - name: gen\n    literals: [k=v]\n",
	})
	objs, err := Kustomize(context.Background(), filepath.Join(dir, "overlay"), KustomizeOptions{Roots: roots(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects", len(objs))
	}
	sources := map[string]Object{}
	for _, o := range objs {
		if strings.Contains(string(o.YAML), "config.kubernetes.io/origin") {
			t.Errorf("origin annotation left in output:\n%s", o.YAML)
		}
		sources[filepath.Base(o.Source)] = o
	}
	if o, ok := sources["cm.yaml"]; !ok || !strings.Contains(string(o.YAML), "name: p-a") {
		t.Errorf("base object not traced to base/cm.yaml: %+v", objs)
	}
	if o, ok := sources["kustomization.yaml"]; !ok || !o.Generated {
		t.Errorf("generated object not traced to its kustomization: %+v", objs)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "overlay/kustomization.yaml"))
	if strings.Contains(string(b), "buildMetadata") {
		t.Error("kustomization.yaml was changed on disk")
	}
}

func TestHelmValuesAndSources(t *testing.T) {
	dir := write(t, map[string]string{
		"c/Chart.yaml":          "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"c/values.yaml":         "count: 1\n",
		"c/templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {count: \"{{ .Values.count }}\", kube: \"{{ .Capabilities.KubeVersion.Minor }}\"}\n",
		"c/templates/NOTES.txt": "hello",
		"prod.yaml":             "count: 5\n",
	})
	ts, err := Helm(filepath.Join(dir, "c"), []string{filepath.Join(dir, "prod.yaml")}, Cluster{KubeVersion: "1.33.0"}, roots(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || !strings.HasSuffix(ts[0].Source, "c/templates/cm.yaml") {
		t.Fatalf("templates = %+v", ts)
	}
	if !strings.Contains(ts[0].Rendered, `count: "5"`) || !strings.Contains(ts[0].Rendered, `kube: "33"`) || !strings.Contains(ts[0].Text, "{{ .Values.count }}") {
		t.Errorf("rendered = %s", ts[0].Rendered)
	}
}

// Charts test APIs as group/version and group/version/Kind; both answer
// from the list, and a group/version entry does not make its group an API.
func TestCapabilitiesAPIVersions(t *testing.T) {
	caps, err := Cluster{KubeVersion: "1.33.0", APIs: []string{"networking.k8s.io/v1/Ingress", "v1/Pod", "monitoring.coreos.com/v1"}}.capabilities()
	if err != nil {
		t.Fatal(err)
	}
	for api, want := range map[string]bool{
		"networking.k8s.io/v1/Ingress": true, "networking.k8s.io/v1": true, "v1": true, "v1/Pod": true,
		"monitoring.coreos.com/v1": true, "monitoring.coreos.com": false, "extensions/v1beta1": false, "policy/v1beta1": false,
	} {
		if got := caps.APIVersions.Has(api); got != want {
			t.Errorf("Has(%q) = %v, want %v", api, got, want)
		}
	}
	if caps.KubeVersion.Version != "v1.33.0" {
		t.Errorf("KubeVersion = %q, want v1.33.0", caps.KubeVersion.Version)
	}
}
