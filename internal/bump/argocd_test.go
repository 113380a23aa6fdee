package bump

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Argo CD sources and argocd-image-updater's write-back files, run by TestGolden.
var argocdGoldenCases = []goldenCase{
	// kustomize.images strings: name[:tag][@digest], or name=newName[...].
	{name: "argocd-kustomize", in: "argocd-kustomize", image: "quay.io/dkarpele/my-guestbook", tag: "1.0.3", strategy: StrategyAuto, wantFound: 3},
	{name: "argocd-kustomize-hub", in: "argocd-kustomize", image: "memcached", tag: "1.6.21", strategy: StrategyArgoCD, wantFound: 1},
	{name: "argocd-kustomize-digest", in: "argocd-kustomize", image: "docker.io/library/nginx", tag: "1.27.0", digest: digest2, strategy: StrategyAuto, wantFound: 1},
	{name: "argocd-kustomize-other", in: "argocd-kustomize", image: "ghcr.io/dkarpele/my-guestbook", tag: "1.0.3", strategy: StrategyAuto, wantUnchanged: true},

	// helm.parameters: the keys of an image block, or a whole reference.
	{name: "argocd-helm", in: "argocd-helm", image: "ghcr.io/acme/guestbook", tag: "0.10", strategy: StrategyAuto, wantFound: 1, wantSkips: 1}, // api.image: a parameter of no known shape
	{name: "argocd-helm-digest", in: "argocd-helm", image: "ghcr.io/acme/guestbook", tag: "0.2", digest: digest2, strategy: StrategyArgoCD, wantFound: 1, wantSkips: 1},
	{name: "argocd-helm-registry", in: "argocd-helm", image: "quay.io/prometheus/alertmanager", tag: "v0.29.0", strategy: StrategyAuto, wantFound: 1},
	{name: "argocd-helm-other-registry", in: "argocd-helm", image: "docker.io/prometheus/alertmanager", tag: "v0.29.0", strategy: StrategyAuto, wantUnchanged: true},
	{name: "argocd-helm-whole", in: "argocd-helm", image: "ghcr.io/acme/sidecar", tag: "1.3.0", strategy: StrategyAuto, wantFound: 1},
	{name: "argocd-helm-keys", in: "argocd-helm", image: "ghcr.io/acme/guestbook", tag: "0.2", strategy: StrategyArgoCD, helmKeys: []string{"api.image", "api.imageTag"}, wantFound: 1, wantSkips: 1},
	{name: "argocd-helm-valuesobject", in: "argocd-helm", image: "grafana/grafana", tag: "12.3.0", strategy: StrategyAuto, wantFound: 1},

	// helm.values as a string: edited inside, line by line.
	{name: "argocd-values", in: "argocd-values", image: "ghcr.io/acme/guestbook", tag: "0.2", strategy: StrategyAuto, wantFound: 1},
	{name: "argocd-values-flow", in: "argocd-values", image: "redis", tag: "7.4.2", strategy: StrategyAuto, wantFound: 1},
	{name: "argocd-values-digest", in: "argocd-values", image: "ghcr.io/acme/guestbook", tag: "0.2", digest: digest2, strategy: StrategyAuto, wantFound: 1, wantSkips: 1},

	// .argocd-source-<app>.yaml, kustomize and helm forms.
	{name: "argocd-source-kustomize", in: ".argocd-source-guestbook", image: "quay.io/dkarpele/my-guestbook", tag: "1.0.3", strategy: StrategyAuto, wantFound: 1},
	{name: "argocd-source-helm", in: ".argocd-source-helm-guestbook", image: "ghcr.io/acme/guestbook", tag: "0.2.0", strategy: StrategyAuto, wantFound: 1},
}

func init() { goldenCases = append(goldenCases, argocdGoldenCases...) }

// What cannot be edited whole fails, naming the line and what is missing.
func TestArgoCDUnsupported(t *testing.T) {
	for _, tc := range []struct {
		name, image, src string
		line             int
		want             string
	}{
		{"no tag parameter", "ghcr.io/dexidp/dex", `apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  source:
    helm:
      parameters:
      - name: dex.image.name
        value: ghcr.io/dexidp/dex
`, 8, `no "dex.image.tag" parameter`},
		{"values not a literal block", "ghcr.io/acme/api", `apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  source:
    helm:
      values: "image: {repository: ghcr.io/acme/api, tag: 1.0.0}"
`, 6, "not written as a literal block"},
		{"values not YAML", "ghcr.io/acme/api", `apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  source:
    helm:
      values: |
        image: ghcr.io/acme/api:1.0.0
          tag: [
`, 6, "helm.values"},
		{"replaced by a wildcard", "ghcr.io/acme/api", `apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  source:
    kustomize:
      images:
      - ghcr.io/acme/api=*:1.0.0
`, 7, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEditor(Editor{Image: tc.image, Tag: "2.0.0"})
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Edit("app.yaml", []byte(tc.src))
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != tc.line || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Edit = %v, %v; want a FileError at line %d saying %q", res, err, tc.line, tc.want)
			}
		})
	}
}

// The write-back file is found under a directory as other YAML is, and
// prune's reader sees every Argo CD form.
func TestArgoCDFilesAndReferences(t *testing.T) {
	files, err := selectFiles([]string{"apps/guestbook/.argocd-source-guestbook.yaml", "apps/guestbook/.gitignore", "apps/guestbook/app.yaml"}, []string{"apps"})
	if err != nil || len(files) != 2 || files[0] != "apps/guestbook/.argocd-source-guestbook.yaml" {
		t.Fatalf("selectFiles = %v, %v; want the write-back file and app.yaml", files, err)
	}
	src := map[string]string{
		"apps/guestbook/.argocd-source-guestbook.yaml": "helm:\n  parameters:\n  - name: image.name\n    value: ghcr.io/acme/api\n  - name: image.tag\n    value: 1.2.0\n",
		"apps/app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n      values: |\n        image:\n          repository: ghcr.io/acme/api\n          tag: 1.1.0\n",
	}
	names, contents := treeOf(src)
	refs, err := References(names, contents, []string{"ghcr.io/acme/api"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.File+":"+strconv.Itoa(r.Line)+" "+r.Strategy+" "+r.Tag)
	}
	slices.Sort(got)
	want := []string{"apps/app.yaml:8 helm 1.1.0", "apps/guestbook/.argocd-source-guestbook.yaml:4 argocd 1.2.0"}
	if !slices.Equal(got, want) {
		t.Errorf("References = %v, want %v", got, want)
	}
}

// An ApplicationSet's values template is left alone with a warning, as a
// Helm template file is.
func TestArgoCDValuesTemplate(t *testing.T) {
	src := "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nspec:\n  goTemplate: true\n  template:\n    spec:\n      source:\n        helm:\n          values: |\n            image:\n              repository: ghcr.io/acme/api\n              tag: {{ .tag }}\n"
	e, err := NewEditor(Editor{Image: "ghcr.io/acme/api", Tag: "2.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Edit("appset.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 0 || len(res.Skips) != 1 || res.Skips[0].Line != 9 || !strings.Contains(res.Skips[0].Reason, "template") {
		t.Errorf("changes %v, skips %v; want none and one warning at line 9", res.Changes, res.Skips)
	}
}
