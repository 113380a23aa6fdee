package bump

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

const (
	stagingKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: ghcr.io/acme/api
    newTag: "1.4.0"
    digest: ` + digest2 + `
`
	productionKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
# Production follows staging after a person approves.
images:
  - name: ghcr.io/acme/api
    newTag: "1.3.0" # promoted
    digest: ` + digest1 + `
  - name: ghcr.io/acme/worker
    newTag: "0.9.0"
`
)

// Promotion copies what staging runs into production, touching one line
// per field, and is a no-op once production has it.
func TestPromote(t *testing.T) {
	r := newRemote(t, map[string]string{
		"base/kustomization.yaml":                "resources:\n  - deployment.yaml\n",
		"base/deployment.yaml":                   deployment,
		"overlays/staging/kustomization.yaml":    stagingKustomization,
		"overlays/production/kustomization.yaml": productionKustomization,
	})
	args := []string{"--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/api",
		"--promote-from", "overlays/staging", "--paths", "overlays/production"}
	res := runAction(t, nil, args...)
	if res.code != 0 {
		t.Fatalf("promote: exit %d\n%s", res.code, res.stderr)
	}
	for k, v := range map[string]string{"changed": "true", "files": "overlays/production/kustomization.yaml", "old-tag": "1.3.0", "new-tag": "1.4.0"} {
		if res.outputs[k] != v {
			t.Errorf("output %s = %q, want %q", k, res.outputs[k], v)
		}
	}
	want := strings.NewReplacer(`"1.3.0" # promoted`, `"1.4.0" # promoted`, digest1, digest2).Replace(productionKustomization)
	if got := r.file("main", "overlays/production/kustomization.yaml"); got != want {
		t.Errorf("production after promotion:\n%s\nwant:\n%s", got, want)
	}
	if got := r.file("main", "overlays/staging/kustomization.yaml"); got != stagingKustomization {
		t.Errorf("staging changed:\n%s", got)
	}
	// One removed and one added line per field, nothing else.
	var minus, plus []string
	for _, l := range strings.Split(gitCmd(t, r.home, r.bare, "diff", "--unified=0", "main~1", "main"), "\n") {
		switch {
		case strings.HasPrefix(l, "--- "), strings.HasPrefix(l, "+++ "):
		case strings.HasPrefix(l, "-"):
			minus = append(minus, l)
		case strings.HasPrefix(l, "+"):
			plus = append(plus, l)
		}
	}
	wantMinus := []string{`-    newTag: "1.3.0" # promoted`, "-    digest: " + digest1}
	wantPlus := []string{`+    newTag: "1.4.0" # promoted`, "+    digest: " + digest2}
	if !slices.Equal(minus, wantMinus) || !slices.Equal(plus, wantPlus) {
		t.Errorf("diff removes %q and adds %q; want %q and %q", minus, plus, wantMinus, wantPlus)
	}
	if msg := gitCmd(t, r.home, r.bare, "log", "-1", "--format=%s", "main"); msg != "Bump ghcr.io/acme/api to 1.4.0@"+digest2 {
		t.Errorf("commit subject %q", msg)
	}
	if !strings.Contains(res.report, `"promoted"`) || !strings.Contains(res.report, `"overlays/staging"`) {
		t.Errorf("report lacks the promotion source:\n%s", res.report)
	}

	again := runAction(t, nil, args...)
	if again.code != 0 || again.outputs["changed"] != "false" || again.outputs["commit-sha"] != "" {
		t.Errorf("second promotion: exit %d outputs %v\n%s", again.code, again.outputs, again.stderr)
	}
	if n := r.commits("main"); n != 2 {
		t.Errorf("main has %d commits after a repeated promotion, want 2", n)
	}
}

func TestPromoteErrors(t *testing.T) {
	r := newRemote(t, map[string]string{
		"overlays/staging/kustomization.yaml":    stagingKustomization,
		"overlays/production/kustomization.yaml": productionKustomization,
		"overlays/dev/values.yaml":               "image:\n  repository: ghcr.io/acme/api\n  tag: 1.5.0\n",
		"overlays/dev/deploy.yaml":               "kind: Pod\nspec:\n  containers:\n    - image: ghcr.io/acme/api:1.6.0\n",
	})
	head := gitCmd(t, r.home, r.bare, "rev-parse", "main")
	base := []string{"--repository", r.url, "--token", secretToken, "--paths", "overlays/production"}
	for _, tc := range []struct {
		args  []string
		code  int
		names string
	}{
		{[]string{"--image", "ghcr.io/acme/api", "--promote-from", "overlays/staging", "--tag", "1.0.0"}, 2, "tag"},
		{[]string{"--image", "ghcr.io/acme/api", "--promote-from", "overlays/staging", "--digest", digest1}, 2, "digest"},
		{[]string{"--image-ref", "ghcr.io/acme/api:1.0.0", "--promote-from", "overlays/staging"}, 2, "image-ref"},
		{[]string{"--image", "ghcr.io/acme/api", "--promote-from", "../elsewhere"}, 2, "promote-from"},
		{[]string{"--image", "ghcr.io/acme/api", "--promote-from", "overlays/qa"}, 2, "overlays/qa"},
		{[]string{"--image", "ghcr.io/acme/other", "--promote-from", "overlays/staging"}, 1, "overlays/staging"},
		// Two tags for one image under the source: which to promote is not clear.
		{[]string{"--image", "ghcr.io/acme/api", "--promote-from", "overlays/dev"}, 1, "overlays/dev/deploy.yaml:4"},
	} {
		res := runAction(t, nil, append(slices.Clone(base), tc.args...)...)
		if res.code != tc.code || !strings.Contains(res.stderr, tc.names) {
			t.Errorf("%v: exit %d, want %d naming %q\n%s", tc.args, res.code, tc.code, tc.names, res.stderr)
		}
	}
	if gitCmd(t, r.home, r.bare, "rev-parse", "main") != head {
		t.Error("a failed promotion pushed something")
	}
}

// The finder reports what every strategy found, so promotion reads with
// the same code that edits.
func TestRefs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Ref
	}{
		{"kustomize", []Ref{
			{File: "kustomize.yaml", Line: 10, Strategy: StrategyKustomize, Tag: "1.4.0", Digest: digest1},
			{File: "kustomize.yaml", Line: 14, Strategy: StrategyKustomize, Tag: "1.4.0"},
			{File: "kustomize.yaml", Line: 22, Strategy: StrategyKustomize, Tag: "1.4.0"},
		}},
		{"values", []Ref{
			{File: "values.yaml", Line: 9, Strategy: StrategyHelm, Tag: "1.4.0"},
			{File: "values.yaml", Line: 20, Strategy: StrategyHelm, Tag: "1.4.0"},
			{File: "values.yaml", Line: 24, Strategy: StrategyHelm, Tag: "1.4.0"},
			{File: "values.yaml", Line: 28, Strategy: StrategyHelm, Tag: "1.4.0"},
		}},
		{"manifests", []Ref{
			{File: "manifests.yaml", Line: 15, Strategy: StrategyManifest, Tag: "1.4.0", Digest: digest1},
			{File: "manifests.yaml", Line: 12, Strategy: StrategyManifest, Tag: "1.4.0"},
			{File: "manifests.yaml", Line: 33, Strategy: StrategyManifest, Tag: "1.4.0"},
			{File: "manifests.yaml", Line: 43, Strategy: StrategyManifest},
		}},
		{"markers", []Ref{
			{File: "markers.yaml", Line: 9, Strategy: StrategyHelm, Tag: "1.4.0"},
			{File: "markers.yaml", Line: 10, Strategy: StrategyMarker, Tag: "1.4.0"},
			{File: "markers.yaml", Line: 20, Strategy: StrategyMarker, Tag: "1.4.0"},
		}},
	} {
		src, err := os.ReadFile(filepath.Join("testdata", tc.in+".in.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEditor(Editor{Image: "ghcr.io/acme/api"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Edit(tc.in+".yaml", src)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Changes) != 0 || string(res.Out) != string(src) {
			t.Errorf("%s: an editor without tag or digest changed %v", tc.in, res.Changes)
		}
		if !slices.Equal(res.Refs, tc.want) {
			t.Errorf("%s: refs\n%+v\nwant\n%+v", tc.in, res.Refs, tc.want)
		}
	}
}

// The promote workflow's call: promotion as a pull request.
func TestPromotePullRequest(t *testing.T) {
	r := newRemote(t, map[string]string{
		"overlays/staging/kustomization.yaml":    stagingKustomization,
		"overlays/production/kustomization.yaml": productionKustomization,
	})
	api := testenv.StartGitHubAPI(t)
	api.RequireToken(secretToken)
	pr := map[string]any{"number": 9, "html_url": "https://github.com/acme/config/pull/9"}
	api.Handle("GET", routePulls, func(*testenv.Request) (int, any) { return http.StatusOK, []any{} })
	api.Handle("POST", routePulls, func(*testenv.Request) (int, any) { return http.StatusCreated, pr })
	api.Expect("GET", routePulls, 1)
	api.Expect("POST", routePulls, 1)

	title := "Promote ghcr.io/acme/api from overlays/staging to overlays/production"
	res := runAction(t, map[string]string{"GITHUB_SERVER_URL": r.server.URL}, "--repository", "acme/config", "--token", secretToken,
		"--github-api-url", api.URL, "--image", "ghcr.io/acme/api", "--promote-from", "overlays/staging",
		"--paths", "overlays/production", "--mode", "pull-request", "--pr-title", title)
	if res.code != 0 || res.outputs["pull-request-operation"] != "created" || res.outputs["pull-request-number"] != "9" {
		t.Fatalf("exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	var head string
	for _, req := range api.Requests() {
		if req.Method == "POST" {
			var body struct{ Title, Head, Base, Body string }
			if err := req.Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.Title != title || body.Base != "main" || !strings.Contains(body.Body, digest2) {
				t.Errorf("create body %+v", body)
			}
			head = body.Head
		}
	}
	want := strings.NewReplacer(`"1.3.0" # promoted`, `"1.4.0" # promoted`, digest1, digest2).Replace(productionKustomization)
	if got := r.file(head, "overlays/production/kustomization.yaml"); got != want {
		t.Errorf("production on PR branch %q:\n%s\nwant:\n%s", head, got, want)
	}
	if got := r.file("main", "overlays/production/kustomization.yaml"); got != productionKustomization {
		t.Errorf("main changed in pull-request mode:\n%s", got)
	}
}
