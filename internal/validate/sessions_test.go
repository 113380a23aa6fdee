package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/render"
)

// Overlays over a base of megabytes (a project's CRDs) render one after
// another in one process; overlays over light bases, in parallel.
func TestRenderGroups(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	files := map[string]string{
		"heavy/kustomization.yaml": "resources: [crds.yaml]\n",
		"heavy/crds.yaml":          "# " + strings.Repeat("x", sharedBaseBytes) + "\n",
		"light/kustomization.yaml": "resources: [cm.yaml]\n",
		"light/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
		// mid includes heavy: its overlays share heavy through it.
		"mid/kustomization.yaml": "resources: [../heavy]\n",
	}
	units := []string{"o/h1", "o/h2", "o/l1", "o/l2", "o/m1", "o/alone"}
	for _, u := range units {
		base := map[string]string{"o/h1": "heavy", "o/h2": "heavy", "o/l1": "light", "o/l2": "light", "o/m1": "mid", "o/alone": ""}[u]
		k := "resources: [sa.yaml]\n"
		if base != "" {
			k = fmt.Sprintf("resources: [../../%s, sa.yaml]\n", base)
		}
		files[u+"/kustomization.yaml"] = k
		files[u+"/sa.yaml"] = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s}\n"
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	roots, err := render.NewRoots(".")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(renderGroups(roots, units))
	if want := "[[0 1 4] [2] [3] [5]]"; got != want {
		t.Errorf("groups of %v = %s, want %s", units, got, want)
	}
}
