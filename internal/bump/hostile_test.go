package bump

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// Bad branch names and repository URLs are bad input (exit 2 naming the
// input), refused before any clone.
func TestBadRefsAndURLs(t *testing.T) {
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	head := gitCmd(t, r.home, r.bare, "rev-parse", "main")
	base := []string{"--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "2.0.0"}
	for _, tc := range []struct {
		input string
		args  []string
	}{
		{"branch", []string{"--repository", r.url, "--branch", "a..b"}},
		{"branch", []string{"--repository", r.url, "--branch", "-x"}},
		{"branch", []string{"--repository", r.url, "--branch", "foo.lock"}},
		{"branch", []string{"--repository", r.url, "--branch", "has space"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--pr-branch", "a..b"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--pr-branch", "-x"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--pr-branch", "bump/foo.lock"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--pr-branch", "has space"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--branch", "main", "--pr-branch", "main"}},
		{"pr-branch", []string{"--repository", r.url, "--mode", "pull-request", "--branch", "bump/ghcr.io-acme-api"}},
		{"repository", []string{"--repository", "https://"}},
		{"repository", []string{"--repository", "https:///acme/config.git"}},
	} {
		res := runAction(t, nil, append(tc.args, base...)...)
		if msg := res.stdout + res.stderr; res.code != 2 || !strings.Contains(msg, `"`+tc.input+`"`) || strings.Contains(msg, "goroutine") {
			t.Errorf("%v: exit %d, want 2 naming %q\n%s", tc.args, res.code, tc.input, msg)
		}
	}
	if gitCmd(t, r.home, r.bare, "rev-parse", "main") != head || strings.Contains(gitCmd(t, r.home, r.bare, "branch", "--list"), "bump/") {
		t.Error("a refused run changed the remote")
	}
}

// prAPI is a GitHub API fake answering the pull request calls of one
// successful run after another.
func prAPI(t *testing.T) *testenv.GitHubAPI {
	api := testenv.StartGitHubAPI(t)
	api.RequireToken(secretToken)
	pr := map[string]any{"number": 7, "html_url": "https://github.com/acme/config/pull/7"}
	var opened atomic.Bool
	api.Handle("GET", routePulls, func(*testenv.Request) (int, any) {
		if opened.Load() {
			return http.StatusOK, []any{pr}
		}
		return http.StatusOK, []any{}
	})
	api.Handle("POST", routePulls, func(*testenv.Request) (int, any) { opened.Store(true); return http.StatusCreated, pr })
	api.Handle("PATCH", routePull, func(*testenv.Request) (int, any) { return http.StatusOK, pr })
	return api
}

// push commits files on top of branch (from, or a new branch started at
// from) in the remote and returns the new tip.
func (r *remote) push(branch, from, message string, files map[string]string) string {
	r.t.Helper()
	g := r.server
	dir := g.Clone(r.t, "acme/config")
	g.Git(r.t, dir, "checkout", "--quiet", "-B", branch, "origin/"+from)
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	g.Git(r.t, dir, "add", "--all")
	g.Git(r.t, dir, "commit", "--quiet", "--allow-empty", "-m", message)
	g.Git(r.t, dir, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+branch)
	return g.Git(r.t, dir, "rev-parse", "HEAD")
}

func (r *remote) head(branch string) string { return r.server.Head(r.t, "acme/config", branch) }

// A pr-branch that is the base, or a branch someone else made, is never
// pushed to: exit 2 naming pr-branch before any API call, both untouched.
func TestPullRequestBranchNotOurs(t *testing.T) {
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	api := prAPI(t)
	env := map[string]string{"GITHUB_SERVER_URL": r.server.URL}
	pr := func(extra ...string) runResult {
		return runAction(t, env, append([]string{"--repository", "acme/config", "--mode", "pull-request", "--github-api-url", api.URL,
			"--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "2.0.0"}, extra...)...)
	}
	release := r.push("release", "main", "Release notes", map[string]string{"NOTES.md": "release 1\n"})
	notes := r.file("release", "NOTES.md")
	// A branch at main's tip has no commit of its own, and none of ours.
	r.server.Git(t, "", "--git-dir="+r.bare, "update-ref", "refs/heads/mirror", "refs/heads/main")
	atMain := r.head("mirror")
	main := r.head("main")

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"base implicit", []string{"--pr-branch", "main"}},
		{"foreign branch", []string{"--pr-branch", "release"}},
		{"branch at the base", []string{"--pr-branch", "mirror"}},
	} {
		res := pr(tc.args...)
		if msg := res.stdout + res.stderr; res.code != 2 || !strings.Contains(msg, `"pr-branch"`) {
			t.Errorf("%s: exit %d, want 2 naming pr-branch\n%s", tc.name, res.code, msg)
		}
	}
	if got := r.head("main"); got != main {
		t.Errorf("main moved from %s to %s", main, got)
	}
	if got := r.head("release"); got != release || r.file("release", "NOTES.md") != notes {
		t.Errorf("release moved from %s to %s", release, got)
	}
	if got := r.head("mirror"); got != atMain {
		t.Errorf("mirror moved from %s to %s", atMain, got)
	}
	if n := len(api.Requests()); n != 0 {
		t.Errorf("%d API requests for refused runs, want none", n)
	}
}

// bump-manifest replaces its own pull request branch on a rerun, also after
// the base moved, and stops once someone else added a commit to it.
func TestPullRequestBranchOurs(t *testing.T) {
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	api := prAPI(t)
	env := map[string]string{"GITHUB_SERVER_URL": r.server.URL}
	pr := func(tag string) runResult {
		return runAction(t, env, "--repository", "acme/config", "--mode", "pull-request", "--github-api-url", api.URL,
			"--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", tag, "--pr-branch", "bump/api")
	}
	if res := pr("1.1.0"); res.code != 0 {
		t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
	}
	if msg := gitCmd(t, r.home, r.bare, "log", "-1", "--format=%B", "bump/api"); !strings.Contains(msg, "Gitops-Actions-Branch: bump/api") {
		t.Errorf("PR commit lacks the branch trailer:\n%s", msg)
	}
	// The base moves on; the rerun bases the branch on the new tip.
	r.push("main", "main", "Unrelated change", map[string]string{"README.md": "config\n"})
	res := pr("1.2.0")
	if res.code != 0 || res.outputs["pull-request-operation"] != "updated" {
		t.Fatalf("rerun: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	if got := r.file("bump/api", "deploy.yaml"); !strings.Contains(got, "ghcr.io/acme/api:1.2.0") {
		t.Errorf("PR branch after rerun:\n%s", got)
	}
	if parent := gitCmd(t, r.home, r.bare, "rev-parse", "bump/api^"); parent != r.head("main") {
		t.Errorf("PR branch based on %s, want main's tip %s", parent, r.head("main"))
	}

	// A reviewer pushes a fix to the branch: it is no longer ours alone.
	fix := r.push("bump/api", "bump/api", "Reviewer fix", map[string]string{"fix.yaml": "a: 1\n"})
	res = pr("1.3.0")
	if msg := res.stdout + res.stderr; res.code != 2 || !strings.Contains(msg, `"pr-branch"`) {
		t.Errorf("branch with a foreign tip: exit %d, want 2 naming pr-branch\n%s", res.code, msg)
	}
	// Our trailer on top does not hide the foreign commit below it.
	forged := r.push("bump/api", "bump/api", "Bump again\n\nGitops-Actions-Branch: bump/api", nil)
	res = pr("1.3.0")
	if msg := res.stdout + res.stderr; res.code != 2 || !strings.Contains(msg, `"pr-branch"`) || !strings.Contains(msg, fix[:12]) {
		t.Errorf("branch with a foreign commit under ours: exit %d, want 2 naming pr-branch and %.12s\n%s", res.code, fix, msg)
	}
	if got := r.head("bump/api"); got != forged {
		t.Errorf("bump/api moved from %s to %s", forged, got)
	}
}

// A git server that accepts and never answers: exit 3 within a bounded
// time, saying how often the clone was tried.
func TestCloneSilentServer(t *testing.T) {
	requireGit(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held <- c // kept open, never written to
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	})
	start := time.Now()
	res := runAction(t, nil, "--repository", "http://"+l.Addr().String()+"/acme/config.git", "--token", secretToken,
		"--image", "ghcr.io/acme/api", "--tag", "2.0.0", "--git-timeout", "1s")
	if took := time.Since(start); res.code != 3 || took > 30*time.Second || !strings.Contains(res.stderr, "after 3 attempts") {
		t.Errorf("silent git server: exit %d after %s, want 3 within 30s saying it tried 3 times\n%s", res.code, took, res.stderr)
	}
	if res := runAction(t, nil, "--repository", "acme/config", "--image", "ghcr.io/acme/api", "--tag", "2.0.0", "--git-timeout", "100ms"); res.code != 2 || !strings.Contains(res.stderr, `"git-timeout"`) {
		t.Errorf("git-timeout 100ms: exit %d, want 2 naming git-timeout\n%s", res.code, res.stderr)
	}
}

// A config repo whose links lead out of it: nothing is read or written
// through them, the run is exit 2 naming the link, and nothing is pushed.
func TestSymlinksOutOfRepo(t *testing.T) {
	outside := t.TempDir()
	const secret = "SECRET-OUTSIDE-VALUE"
	outsideFile := filepath.Join(outside, "kustomization.yaml")
	outsideYAML := "# " + secret + "\nimages:\n  - name: ghcr.io/acme/api\n    newTag: \"1.0.0\"\n"
	if err := os.WriteFile(outsideFile, []byte(outsideYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "deploy.yaml"), []byte(deployment+"# "+secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRemote(t, map[string]string{
		"overlays/prod/deployment.yaml": deployment,
		"overlays/dev/deployment.yaml":  deployment,
		"base/deployment.yaml":          deployment,
		"staging/deployment.yaml":       deployment,
	})
	g := r.server
	dir := g.Clone(t, "acme/config")
	for link, target := range map[string]string{
		"overlays/prod/kustomization.yaml": outsideFile,                  // absolute, out of the repo
		"overlays/staging":                 "../../../../../" + outside,  // a directory out of the repo
		"overlays/dev/base.yaml":           "../../base/deployment.yaml", // stays inside
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	g.Git(t, dir, "add", "--all")
	g.Git(t, dir, "commit", "--quiet", "-m", "links")
	g.Git(t, dir, "push", "--quiet", "origin", "HEAD:main")
	main := r.head("main")

	for _, tc := range []struct {
		input, link string
		args        []string
	}{
		{"paths", "overlays/prod/kustomization.yaml", []string{"--paths", "overlays/prod"}},
		{"paths", "overlays/prod/kustomization.yaml", []string{"--paths", "overlays/prod/kustomization.yaml"}},
		{"paths", "overlays/staging", []string{"--paths", "overlays/staging"}},
		{"paths", "overlays/staging", []string{"--paths", "overlays/staging/kustomization.yaml"}},
		{"paths", "overlays/prod/kustomization.yaml", []string{"--paths", "overlays/**/*.yaml"}},
		{"paths", "overlays/prod/kustomization.yaml", []string{}},
		{"promote-from", "overlays/staging", []string{"--paths", "base", "--promote-from", "overlays/staging"}},
	} {
		args := []string{"--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/api"}
		// promote-from reads the tag from the source; elsewhere it is given.
		if tc.input != "promote-from" {
			args = append(args, "--tag", "2.0.0")
		}
		args = append(args, tc.args...)
		res := runAction(t, nil, args...)
		out := res.stdout + res.stderr + res.report
		if res.code != 2 || !strings.Contains(res.stderr, `"`+tc.input+`"`) || !strings.Contains(res.stderr, `"`+tc.link+`"`) || !strings.Contains(res.report, "GA-PATH-OUTSIDE") {
			t.Errorf("%v: exit %d, want 2 naming %s and %s with a GA-PATH-OUTSIDE finding\n%s", tc.args, res.code, tc.input, tc.link, out)
		}
		if strings.Contains(out, secret) {
			t.Errorf("%v: the outside file's content shows:\n%s", tc.args, out)
		}
	}
	if got := r.head("main"); got != main {
		t.Errorf("main moved from %s to %s", main, got)
	}
	if got, _ := os.ReadFile(outsideFile); string(got) != outsideYAML {
		t.Errorf("the outside file changed:\n%s", got)
	}
	// A link inside the repo is no reason to stop: its target is edited
	// where paths select it, the link stays a link.
	res := runAction(t, nil, "--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "2.0.0", "--paths", "overlays/dev,base")
	if res.code != 0 || res.outputs["files"] != "base/deployment.yaml,overlays/dev/deployment.yaml" {
		t.Errorf("link inside the repo: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	if mode := gitCmd(t, r.home, r.bare, "ls-tree", "main", "overlays/dev/base.yaml"); !strings.HasPrefix(mode, "120000 ") {
		t.Errorf("overlays/dev/base.yaml is no longer a link: %s", mode)
	}
}
