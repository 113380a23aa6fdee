package bump

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

const secretToken = "ghs_e2eSecretTokenValue"

// remote is a bare repository the action clones and pushes to.
type remote struct {
	t      *testing.T
	server *testenv.GitServer
	url    string
	bare   string
	home   string
}

func gitCmd(t *testing.T, home, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C",
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.invalid", "GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.invalid"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func requireGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git is missing: install the Debian package git")
		}
		t.Skip("git is missing: install the Debian package git")
	}
}

// newRemote serves a repository whose branch main holds files over git
// smart HTTP (git http-backend on loopback). The server demands the token
// as GitHub takes it (Basic x-access-token:<token>), so every run below
// proves the token reaches git without showing anywhere, and serves
// partial clones as GitHub does.
func newRemote(t *testing.T, files map[string]string) *remote {
	return newRemoteWith(t, files, true)
}

// newRemoteWith is newRemote with a server that takes object filters or,
// like a plain git http-backend, ignores them.
func newRemoteWith(t *testing.T, files map[string]string, filters bool) *remote {
	requireGit(t)
	opts := []testenv.GitServerOption{testenv.WithBasicAuth("x-access-token", secretToken)}
	if filters {
		opts = append(opts, testenv.WithFilters())
	}
	g := testenv.StartGitServer(t, opts...)
	url := g.NewRepo(t, "acme/config", files)
	return &remote{t: t, server: g, url: url, bare: filepath.Join(g.Root, "acme", "config.git"), home: t.TempDir()}
}

// file returns path's content on branch.
func (r *remote) file(branch, path string) string {
	return gitCmd(r.t, r.home, r.bare, "show", branch+":"+path) + "\n"
}

func (r *remote) commits(branch string) int {
	var n int
	fmt.Sscan(gitCmd(r.t, r.home, r.bare, "rev-list", "--count", branch), &n)
	return n
}

type runResult struct {
	code           int
	stdout, stderr string
	outputs        map[string]string
	report         string
}

// runAction runs the real entry point in-process.
func runAction(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	dir := t.TempDir()
	reportFile := filepath.Join(dir, "report.json")
	home := t.TempDir()
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		switch k {
		case "PATH":
			return os.Getenv("PATH")
		case "HOME":
			return home
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	// Retries without the pauses: a test waits out no backoff.
	ctx := transport.WithOptions(context.Background(), transport.Options{Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	code := Main(ctx, append([]string{"bump-manifest", "--report-file", reportFile}, args...), getenv, &stdout, &stderr)
	rep, _ := os.ReadFile(reportFile)
	res := runResult{code: code, stdout: stdout.String(), stderr: stderr.String(), report: string(rep), outputs: map[string]string{}}
	var r struct{ Outputs map[string]string }
	if err := json.Unmarshal(rep, &r); err == nil && r.Outputs != nil {
		res.outputs = r.Outputs
	}
	for _, s := range []string{res.stdout, res.stderr, res.report} {
		if strings.Contains(s, secretToken) {
			t.Errorf("the token shows in the output:\n%s", s)
		}
	}
	return res
}

const kustomization = `# Overlay for production.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

resources:
  - deployment.yaml   # the app

images:
  - name: ghcr.io/acme/api
    newTag: "1.0.0"
`

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.0.0 # pinned by CI

        - name: proxy
          image: docker.io/envoyproxy/envoy:v1.30.0
`

func TestPushModeAndIdempotence(t *testing.T) {
	r := newRemote(t, map[string]string{"prod/kustomization.yaml": kustomization, "prod/deployment.yaml": deployment, "README.md": "config\n"})
	args := []string{"--repository", r.url, "--image", "ghcr.io/acme/api", "--tag", "1.1.0", "--token", secretToken}
	res := runAction(t, map[string]string{"GITHUB_REPOSITORY": "acme/api", "GITHUB_SHA": "abc123"}, args...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	want := map[string]string{"changed": "true", "files": "prod/deployment.yaml,prod/kustomization.yaml", "old-tag": "1.0.0", "new-tag": "1.1.0", "pull-request-operation": "none"}
	for k, v := range want {
		if res.outputs[k] != v {
			t.Errorf("output %s = %q, want %q", k, res.outputs[k], v)
		}
	}
	if got, want := r.file("main", "prod/kustomization.yaml"), strings.Replace(kustomization, `"1.0.0"`, `"1.1.0"`, 1); got != want {
		t.Errorf("kustomization.yaml:\n%s\nwant:\n%s", got, want)
	}
	if got, want := r.file("main", "prod/deployment.yaml"), strings.Replace(deployment, "api:1.0.0", "api:1.1.0", 1); got != want {
		t.Errorf("deployment.yaml:\n%s\nwant:\n%s", got, want)
	}
	head := gitCmd(t, r.home, r.bare, "rev-parse", "main")
	if res.outputs["commit-sha"] != head {
		t.Errorf("commit-sha %q, remote main %q", res.outputs["commit-sha"], head)
	}
	msg := gitCmd(t, r.home, r.bare, "log", "-1", "--format=%an <%ae>%n%B", "main")
	for _, s := range []string{"gitops-actions <gitops-actions@users.noreply.github.com>", "Bump ghcr.io/acme/api to 1.1.0", "- prod/deployment.yaml", "Source: acme/api@abc123"} {
		if !strings.Contains(msg, s) {
			t.Errorf("commit message lacks %q:\n%s", s, msg)
		}
	}

	again := runAction(t, nil, args...)
	if again.code != 0 || again.outputs["changed"] != "false" || again.outputs["commit-sha"] != "" {
		t.Fatalf("second run: exit %d outputs %v\n%s", again.code, again.outputs, again.stderr)
	}
	if n := r.commits("main"); n != 2 {
		t.Errorf("main has %d commits after an idempotent rerun, want 2", n)
	}

	dry := runAction(t, nil, "--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "1.2.0", "--dry-run")
	if dry.code != 0 || dry.outputs["changed"] != "true" || dry.outputs["new-tag"] != "1.2.0" || r.commits("main") != 2 {
		t.Errorf("dry run: exit %d outputs %v, %d commits\n%s", dry.code, dry.outputs, r.commits("main"), dry.stderr)
	}
	down := runAction(t, nil, "--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "1.0.5")
	if down.code != 0 || down.outputs["changed"] != "false" || !strings.Contains(down.stderr, "no-downgrade") || r.commits("main") != 2 {
		t.Errorf("downgrade: exit %d outputs %v\n%s", down.code, down.outputs, down.stderr)
	}
	forced := runAction(t, nil, "--repository", r.url, "--token", secretToken, "--image-ref", "ghcr.io/acme/api:1.0.5@"+digest1, "--no-downgrade=false", "--paths", "prod/deployment.yaml")
	if forced.code != 0 || !strings.Contains(r.file("main", "prod/deployment.yaml"), "image: ghcr.io/acme/api:1.0.5@"+digest1+" # pinned by CI") {
		t.Errorf("rollback with no-downgrade=false: exit %d\n%s", forced.code, forced.stderr)
	}
}

func TestErrorsPushNothing(t *testing.T) {
	r := newRemote(t, map[string]string{
		"apps/good.yaml": deployment,
		"apps/bad.yaml":  "kind: Deployment\nspec:\n  image: ghcr.io/acme/api:1.0.0\n   bad: [\n",
	})
	head := gitCmd(t, r.home, r.bare, "rev-parse", "main")
	res := runAction(t, nil, "--repository", r.url, "--image", "ghcr.io/acme/api", "--tag", "2.0.0", "--token", secretToken)
	if res.code != 1 || !strings.Contains(res.stdout+res.stderr, "apps/bad.yaml:4") {
		t.Errorf("malformed YAML: exit %d, want 1 naming apps/bad.yaml:4\n%s%s", res.code, res.stdout, res.stderr)
	}
	if gitCmd(t, r.home, r.bare, "rev-parse", "main") != head {
		t.Error("something was pushed despite the error")
	}

	for _, args := range [][]string{
		{"--image-ref", "ghcr.io/acme/api:1.0@sha256:nothex"},
		{"--image-ref", "Not An Image"},
		{"--image", "ghcr.io/acme/api:1.0", "--tag", "2"},
		{"--image", "ghcr.io/acme/api"},
		{"--image", "ghcr.io/acme/api", "--tag", "bad tag"},
		{"--image", "ghcr.io/acme/api", "--tag", "2", "--paths", "../outside"},
		{"--image", "ghcr.io/acme/api", "--tag", "2", "--commit-message", "{{.Nope}}"},
	} {
		res := runAction(t, nil, append([]string{"--repository", r.url, "--token", secretToken}, args...)...)
		if res.code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, res.code, res.stderr)
		}
	}

	res = runAction(t, nil, "--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/other", "--tag", "2.0.0", "--paths", "apps/good.yaml")
	if res.code != 1 || !strings.Contains(res.stderr, "not found") {
		t.Errorf("missing image: exit %d, want 1\n%s", res.code, res.stderr)
	}
	res = runAction(t, nil, "--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/other", "--tag", "2.0.0", "--paths", "apps/good.yaml", "--allow-missing")
	if res.code != 0 || res.outputs["changed"] != "false" {
		t.Errorf("allow-missing: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	res = runAction(t, nil, "--repository", r.url, "--token", "wrong-token", "--image", "ghcr.io/acme/api", "--tag", "2.0.0")
	if res.code != 3 || strings.Contains(res.stderr, "wrong-token") {
		t.Errorf("refused token: exit %d, want 3 without the token shown\n%s", res.code, res.stderr)
	}
	res = runAction(t, nil, "--repository", "file:///nonexistent/config.git", "--image", "ghcr.io/acme/api", "--tag", "2.0.0", "--token", secretToken)
	if res.code != 3 {
		t.Errorf("unreachable remote: exit %d, want 3\n%s", res.code, res.stderr)
	}
}

// Twenty pipelines bump twenty images of one file at once: every change
// lands exactly once.
func TestConcurrentDifferentImages(t *testing.T) {
	// 20 writers on one branch of a loaded 2-core machine can need more
	// rounds than the default; what is tested is that none is lost.
	bumpAtOnce(t, 20, func(r *remote) string { return r.url }, "--max-attempts", "40")
}

// Ten pipelines bump one image to increasing tags at once: no-downgrade
// keeps the highest whatever order the pushes land in.
func TestConcurrentSemver(t *testing.T) {
	const n = 10
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			res := runAction(t, nil, "--repository", r.url, "--token", secretToken, "--max-attempts", "40", "--image", "ghcr.io/acme/api", "--tag", fmt.Sprintf("1.0.%d", i))
			if res.code != 0 {
				t.Errorf("tag 1.0.%d: exit %d\n%s", i, res.code, res.stderr)
			}
		})
	}
	wg.Wait()
	if got := r.file("main", "deploy.yaml"); !strings.Contains(got, fmt.Sprintf("image: ghcr.io/acme/api:1.0.%d # pinned by CI", n)) {
		t.Errorf("final deploy.yaml does not hold the highest tag 1.0.%d:\n%s", n, got)
	}
}
