package bump

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/yamledit"
)

// FuzzEdit: any input either fails cleanly with a FileError, or yields
// YAML that parses, differs from the input only on the lines the changes
// name, and is a fixed point of a second edit.
func FuzzEdit(f *testing.F) {
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	for _, p := range ins {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "1.5.0", true, uint8(0))
	}
	f.Add([]byte("image: ghcr.io/acme/api:1\n"), "2", false, uint8(3))
	f.Add([]byte("containers:\n- image: &a ghcr.io/acme/api:1\n- image: *a\n"), "v2", true, uint8(3))
	f.Add([]byte("images: [{name: ghcr.io/acme/api, newTag: \"1\"}]\n"), "2", false, uint8(1))
	f.Add([]byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  sources:\n  - kustomize:\n      images: [ghcr.io/acme/api:1, 'x=ghcr.io/acme/api']\n  - helm:\n      parameters:\n      - {name: image.repository, value: ghcr.io/acme/api}\n      - {name: image.tag, value: \"1\"}\n      values: |\n        image:\n          repository: ghcr.io/acme/api\n\n          tag: 1 # x\n"), "2", true, uint8(5))
	strategies := []string{StrategyAuto, StrategyKustomize, StrategyHelm, StrategyManifest, StrategyMarker, StrategyArgoCD}
	f.Fuzz(func(t *testing.T, src []byte, tag string, withDigest bool, strategy uint8) {
		// The line diff below is quadratic; big inputs add nothing the editor's
		// paths do not already see in small ones.
		if len(src) > 1<<13 || checkTag(tag) != nil {
			return
		}
		e, err := NewEditor(Editor{Image: "ghcr.io/acme/api", Tag: tag, Strategy: strategies[int(strategy)%len(strategies)], NoDowngrade: strategy&8 != 0})
		if err != nil {
			t.Fatal(err)
		}
		if withDigest {
			e.Digest = digest2
		}
		res, err := e.Edit("kustomization.yaml", src)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != "kustomization.yaml" {
				t.Fatalf("error is not a FileError: %v", err)
			}
			return
		}
		if len(res.Changes) == 0 {
			if string(res.Out) != string(src) {
				t.Fatal("output differs without changes")
			}
			return
		}
		if _, err := yamledit.Parse(res.Out); err != nil {
			t.Fatalf("edited output does not parse: %v\n%s", err, res.Out)
		}
		assertDiffIsChanges(t, src, res)
		again, err := e.Edit("kustomization.yaml", res.Out)
		if err != nil {
			t.Fatalf("second edit: %v\n%s", err, res.Out)
		}
		if len(again.Changes) != 0 || again.Found != res.Found {
			t.Fatalf("second edit changed %+v (found %d, first %d)\n%s", again.Changes, again.Found, res.Found, res.Out)
		}
	})
}
