package bump

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// A monorepo's two services are released together: api in a kustomization
// and a deployment, web in the same deployment and its own Helm values.
const (
	twoImageDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.0.0 # pinned by CI
        - name: web
          image: ghcr.io/acme/web:3.0.0
`
	webValues = `image:
  repository: ghcr.io/acme/web
  tag: "3.0.0"
  digest: ""
`
)

func twoImageRemote(t *testing.T) *remote {
	return newRemote(t, map[string]string{
		"prod/kustomization.yaml": kustomization,
		"prod/deployment.yaml":    twoImageDeployment,
		"web/values.yaml":         webValues,
	})
}

func imagesOutput(t *testing.T, res runResult) map[string]imageOutcome {
	t.Helper()
	var list []imageOutcome
	if err := json.Unmarshal([]byte(res.outputs["images"]), &list); err != nil {
		t.Fatalf("output images %q: %v", res.outputs["images"], err)
	}
	out := map[string]imageOutcome{}
	for _, o := range list {
		out[o.Image] = o
	}
	return out
}

func TestImagesOneCommit(t *testing.T) {
	r := twoImageRemote(t)
	args := []string{"--repository", r.url, "--token", secretToken, "--images", "ghcr.io/acme/api:1.1.0, ghcr.io/acme/web:3.1.0@" + digest1}
	res := runAction(t, map[string]string{"GITHUB_REPOSITORY": "acme/monorepo", "GITHUB_SHA": "abc123"}, args...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if n := r.commits("main"); n != 2 {
		t.Errorf("main has %d commits, want the seed and one bump", n)
	}
	want := map[string]string{"changed": "true", "files": "prod/deployment.yaml,prod/kustomization.yaml,web/values.yaml", "old-tag": "", "new-tag": ""}
	for k, v := range want {
		if res.outputs[k] != v {
			t.Errorf("output %s = %q, want %q", k, res.outputs[k], v)
		}
	}
	images := imagesOutput(t, res)
	if o := images["ghcr.io/acme/api"]; !o.Changed || o.Tag != "1.1.0" || strings.Join(o.Files, ",") != "prod/deployment.yaml,prod/kustomization.yaml" {
		t.Errorf("images output for api: %+v", o)
	}
	if o := images["ghcr.io/acme/web"]; !o.Changed || o.Tag != "3.1.0" || o.Digest != digest1 || strings.Join(o.Files, ",") != "prod/deployment.yaml,web/values.yaml" {
		t.Errorf("images output for web: %+v", o)
	}
	// Both images in the one file, in the one commit.
	dep := r.file("main", "prod/deployment.yaml")
	wantDep := strings.NewReplacer("api:1.0.0", "api:1.1.0", "web:3.0.0", "web:3.1.0@"+digest1).Replace(twoImageDeployment)
	if dep != wantDep {
		t.Errorf("deployment.yaml:\n%s\nwant:\n%s", dep, wantDep)
	}
	if got := r.file("main", "web/values.yaml"); !strings.Contains(got, `tag: "3.1.0"`) || !strings.Contains(got, digest1) {
		t.Errorf("web/values.yaml:\n%s", got)
	}
	if got := r.file("main", "prod/kustomization.yaml"); !strings.Contains(got, `newTag: "1.1.0"`) {
		t.Errorf("prod/kustomization.yaml:\n%s", got)
	}
	changed := gitCmd(t, r.home, r.bare, "show", "--name-only", "--format=", "main")
	if changed != "prod/deployment.yaml\nprod/kustomization.yaml\nweb/values.yaml" {
		t.Errorf("the bump commit changes:\n%s", changed)
	}
	msg := gitCmd(t, r.home, r.bare, "log", "-1", "--format=%B", "main")
	for _, s := range []string{"Bump 2 images\n", "- ghcr.io/acme/api to 1.1.0\n  - prod/deployment.yaml\n  - prod/kustomization.yaml",
		"- ghcr.io/acme/web to 3.1.0@" + digest1 + "\n  - prod/deployment.yaml\n  - web/values.yaml", "Source: acme/monorepo@abc123"} {
		if !strings.Contains(msg, s) {
			t.Errorf("commit message lacks %q:\n%s", s, msg)
		}
	}
	var rep struct {
		Images []struct {
			Image   string
			Found   int
			Changes []Change
		}
	}
	if err := json.Unmarshal([]byte(res.report), &rep); err != nil || len(rep.Images) != 2 || rep.Images[1].Found != 2 || len(rep.Images[1].Changes) != 3 {
		t.Errorf("report images: %+v (%v)\n%s", rep.Images, err, res.report)
	}

	again := runAction(t, nil, args...)
	if again.code != 0 || again.outputs["changed"] != "false" || again.outputs["commit-sha"] != "" || r.commits("main") != 2 {
		t.Fatalf("rerun: exit %d outputs %v, %d commits\n%s", again.code, again.outputs, r.commits("main"), again.stderr)
	}
	for name, o := range imagesOutput(t, again) {
		if o.Changed || len(o.Files) != 0 {
			t.Errorf("rerun: images output for %s: %+v", name, o)
		}
	}

	// A custom template sees each image, and the shared tag at the top.
	tmpl := `release {{.NewTag}}: {{range .Images}}{{.Image}} {{.OldTag}}->{{.NewTag}};{{end}}`
	res = runAction(t, nil, "--repository", r.url, "--token", secretToken, "--images", "ghcr.io/acme/api:4.0.0,ghcr.io/acme/web:4.0.0", "--commit-message", tmpl)
	if res.code != 0 {
		t.Fatalf("shared tag: exit %d\n%s", res.code, res.stderr)
	}
	if msg := gitCmd(t, r.home, r.bare, "log", "-1", "--format=%B", "main"); msg != "release 4.0.0: ghcr.io/acme/api 1.1.0->4.0.0;ghcr.io/acme/web 3.1.0->4.0.0;" {
		t.Errorf("custom template message %q", msg)
	}
}

func TestImagesRefusals(t *testing.T) {
	r := twoImageRemote(t)
	head := gitCmd(t, r.home, r.bare, "rev-parse", "main")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--images", "ghcr.io/acme/api:2", "--image", "ghcr.io/acme/web", "--tag", "2"}, `input "images": cannot be combined with image`},
		{[]string{"--images", "ghcr.io/acme/api:2", "--image-ref", "ghcr.io/acme/web:2"}, `input "images": cannot be combined with image-ref`},
		{[]string{"--images", "ghcr.io/acme/api:2", "--tag", "2"}, `input "images": cannot be combined with tag`},
		{[]string{"--images", "ghcr.io/acme/api:2", "--digest", digest1}, `input "images": cannot be combined with digest`},
		{[]string{"--images", "ghcr.io/acme/api:2", "--promote-from", "prod"}, `input "images": cannot be combined with promote-from`},
		{[]string{"--images", "ghcr.io/acme/api:2,ghcr.io/acme/api:3"}, `input "images": "ghcr.io/acme/api:2" and "ghcr.io/acme/api:3" name one image`},
		{[]string{"--images", "nginx:1,docker.io/library/nginx:2"}, `name one image`},
		{[]string{"--images", "ghcr.io/acme/api:2,ghcr.io/acme/web"}, `input "images": "ghcr.io/acme/web" has neither a tag nor a digest`},
		{[]string{"--images", "ghcr.io/acme/api:2,ghcr.io/acme/web:bad tag"}, `input "images": "ghcr.io/acme/web:bad tag"`},
		{[]string{"--images", "GHCR.io/Acme/Web:2"}, `must be lower case`},
	} {
		res := runAction(t, nil, append([]string{"--repository", r.url, "--token", secretToken}, tc.args...)...)
		if res.code != 2 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q\n%s", tc.args, res.code, tc.want, res.stderr)
		}
	}
	// One image found nowhere: nothing lands, not even the one found.
	res := runAction(t, nil, "--repository", r.url, "--token", secretToken, "--images", "ghcr.io/acme/api:2.0.0,ghcr.io/acme/gone:1")
	if res.code != 1 || !strings.Contains(res.stderr, `image "ghcr.io/acme/gone" not found`) || res.outputs["changed"] == "true" {
		t.Errorf("missing image: exit %d outputs %v, want 1 naming ghcr.io/acme/gone\n%s", res.code, res.outputs, res.stderr)
	}
	if gitCmd(t, r.home, r.bare, "rev-parse", "main") != head {
		t.Error("a partial bump was pushed although one image was not found")
	}
	res = runAction(t, nil, "--repository", r.url, "--token", secretToken, "--images", "ghcr.io/acme/api:2.0.0,ghcr.io/acme/gone:1", "--allow-missing")
	if res.code != 0 || res.outputs["changed"] != "true" || imagesOutput(t, res)["ghcr.io/acme/gone"].Changed {
		t.Errorf("allow-missing: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
}

// In pull-request mode several images make one branch and one pull request.
func TestImagesOnePullRequest(t *testing.T) {
	r := twoImageRemote(t)
	api := testenv.StartGitHubAPI(t)
	api.RequireToken(secretToken)
	pr := map[string]any{"number": 7, "html_url": "https://github.com/acme/config/pull/7"}
	api.Handle("GET", routePulls, func(*testenv.Request) (int, any) { return http.StatusOK, []any{} })
	api.Handle("POST", routePulls, func(*testenv.Request) (int, any) { return http.StatusCreated, pr })
	api.Expect("GET", routePulls, 1)
	api.Expect("POST", routePulls, 1)
	env := map[string]string{"GITHUB_SERVER_URL": r.server.URL}
	res := runAction(t, env, "--repository", "acme/config", "--mode", "pull-request", "--github-api-url", api.URL, "--token", secretToken,
		"--images", "ghcr.io/acme/web:3.1.0,ghcr.io/acme/api:1.1.0")
	if res.code != 0 || res.outputs["pull-request-operation"] != "created" {
		t.Fatalf("exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	var branch string
	for _, b := range strings.Fields(gitCmd(t, r.home, r.bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/bump/")) {
		branch = b
	}
	if !strings.HasPrefix(branch, "bump/images-") || r.commits(branch) != 2 {
		t.Fatalf("pull request branch %q with %d commits, want one bump/images-… branch with one commit", branch, r.commits(branch))
	}
	if got := r.file(branch, "prod/deployment.yaml"); !strings.Contains(got, "api:1.1.0") || !strings.Contains(got, "web:3.1.0") {
		t.Errorf("branch deployment.yaml:\n%s", got)
	}
	for _, req := range api.Requests() {
		if req.Method != "POST" || req.Path != routePulls {
			continue
		}
		b, _ := req.Body.(map[string]any)
		title, _ := b["title"].(string)
		body, _ := b["body"].(string)
		if title != "Bump 2 images" || !strings.Contains(body, "| ghcr.io/acme/web | web/values.yaml |") || !strings.Contains(body, "| ghcr.io/acme/api | prod/kustomization.yaml |") {
			t.Errorf("pull request title %q body:\n%s", title, body)
		}
	}
}
