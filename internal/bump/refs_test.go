package bump

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// refTree is a config repo holding the image in every form bump-manifest
// knows, and a few that must not count.
var refTree = map[string]string{
	"overlays/prod/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
images:
  - name: api
    newName: ghcr.io/acme/api
    digest: ` + digest1 + `
  - name: ghcr.io/acme/worker
    newTag: "9.9"
`,
	"base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/api:1.2.0@` + digest2 + `
      containers:
        - name: api
          image: ghcr.io/acme/api
        - name: proxy
          image: ghcr.io/acme/api-proxy:7.0
`,
	"charts/values.yaml": `controller:
  image:
    registry: ghcr.io
    repository: acme/api
    tag: 1.3.0
other:
  image:
    registry: quay.io
    repository: acme/api
    tag: 6.6.6
api:
  repository: ghcr.io/acme/api
  tag: 1.4.0
`,
	"clusters/flux.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: api}
spec:
  values:
    image:
      repository: ghcr.io/acme/api # {"$imagepolicy": "flux-system:api:name"}
      tag: 1.5.0 # {"$imagepolicy": "flux-system:api:tag"}
`,
	"charts/templates/job.yaml": `{{- if .Values.job }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - image: "ghcr.io/acme/api:1.6.0"
        - image: "ghcr.io/acme/api:{{ .Values.tag }}"
{{- end }}
`,
	"clusters/prod/api-ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: api}
spec:
  path: ./apps/api
  images:
    - name: api
      newName: ghcr.io/acme/api
      newTag: 2.0.0
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {name: api}
spec:
  url: oci://ghcr.io/acme/api
  ref:
    digest: ` + digest1 + `
`,
	"argocd/app.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: api}
spec:
  sources:
    - repoURL: https://example.com/config.git
      kustomize:
        images:
          - ghcr.io/acme/api:2.1.0
          - api=ghcr.io/acme/api@` + digest2 + `
          - ghcr.io/acme/api-proxy:1.0
`,
	"README.md": "ghcr.io/acme/api:0.0.1 is not a YAML file\n",
}

func treeOf(m map[string]string) ([]string, [][]byte) {
	var files []string
	for f := range m {
		files = append(files, f)
	}
	slices.Sort(files)
	contents := make([][]byte, len(files))
	for i, f := range files {
		contents[i] = []byte(m[f])
	}
	return files, contents
}

func TestReferences(t *testing.T) {
	files, contents := treeOf(refTree)
	files, contents = files[1:], contents[1:] // README.md: paths select YAML only
	refs, err := References(files, contents, []string{"ghcr.io/acme/api"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		if r.Image != "ghcr.io/acme/api" {
			t.Errorf("reference to %q, asked only for ghcr.io/acme/api", r.Image)
		}
		got = append(got, fmt.Sprintf("%s:%d %s tag=%s digest=%s whole=%v", r.File, r.Line, r.Strategy, r.Tag, r.Digest, r.Whole))
	}
	slices.Sort(got)
	want := []string{
		"argocd/app.yaml:10 argocd tag= digest=" + digest2 + " whole=true",
		"argocd/app.yaml:9 argocd tag=2.1.0 digest= whole=true",
		"base/deployment.yaml:12 manifest tag= digest= whole=true",
		"base/deployment.yaml:9 manifest tag=1.2.0 digest=" + digest2 + " whole=true",
		"charts/templates/job.yaml:10 template tag=1.6.0 digest= whole=false",
		"charts/values.yaml:12 helm tag=1.4.0 digest= whole=false",
		"charts/values.yaml:4 helm tag=1.3.0 digest= whole=false",
		"clusters/flux.yaml:7 helm tag=1.5.0 digest= whole=false",
		"clusters/flux.yaml:8 marker tag=1.5.0 digest= whole=false",
		"clusters/prod/api-ks.yaml:15 flux tag= digest=" + digest1 + " whole=false",
		"clusters/prod/api-ks.yaml:7 flux tag=2.0.0 digest= whole=false",
		"overlays/prod/kustomization.yaml:5 kustomize tag= digest=" + digest1 + " whole=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("references:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A file under the paths that is not YAML leaves the picture incomplete:
// an error naming the file and line, never fewer references.
func TestReferencesRefuseBrokenYAML(t *testing.T) {
	for name, src := range map[string]string{
		"mentions the image":  "images:\n  - name: ghcr.io/acme/api\n    newTag: [1.0\n",
		"does not mention it": "a: b\n  c: d\n",
	} {
		t.Run(name, func(t *testing.T) {
			files, contents := treeOf(map[string]string{"ok.yaml": "image: ghcr.io/acme/api:1.0\n", "x/broken.yaml": src})
			refs, err := References(files, contents, []string{"ghcr.io/acme/api"})
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != "x/broken.yaml" || fe.Line == 0 {
				t.Fatalf("References = %v, %v; want a FileError at a line of x/broken.yaml", refs, err)
			}
		})
	}
}

// Reading changes nothing: the editors only read when given no tag or
// digest, and the same input gives the same references.
func TestReferencesReadOnly(t *testing.T) {
	files, contents := treeOf(refTree)
	before := make([]string, len(contents))
	for i, c := range contents {
		before[i] = string(c)
	}
	a, err := References(files[1:], contents[1:], []string{"ghcr.io/acme/api", "ghcr.io/acme/worker"})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range contents {
		if string(c) != before[i] {
			t.Errorf("%s changed", files[i])
		}
	}
	var worker []Reference
	for _, r := range a {
		if r.Image == "ghcr.io/acme/worker" {
			worker = append(worker, r)
		}
	}
	if len(worker) != 1 || worker[0].Tag != "9.9" || worker[0].Line != 8 {
		t.Errorf("worker references %+v, want newTag 9.9 at line 8", worker)
	}
}
