package bump

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// hook installs a pre-receive hook in the remote.
func (r *remote) hook(script string) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.bare, "hooks", "pre-receive"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

// A push a pre-receive hook declines (a protected branch) is a refusal,
// not a moved branch: one push, exit 3 with the remote's reason, and the
// way out named.
func TestPushRefusedByHook(t *testing.T) {
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	r.hook("echo 'GH006: Protected branch update failed for refs/heads/main.' >&2\nexit 1\n")
	res := runAction(t, nil, "--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "1.1.0")
	if res.code != 3 {
		t.Errorf("exit %d, want 3\n%s", res.code, res.stderr)
	}
	for _, s := range []string{"pre-receive hook declined", "GH006: Protected branch update failed", "mode: pull-request"} {
		if !strings.Contains(res.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, res.stderr)
		}
	}
	if strings.Contains(res.stderr, "push attempt") || strings.Contains(res.stderr, "moved") {
		t.Errorf("a refusal was retried as a moved branch:\n%s", res.stderr)
	}
	if n := r.server.Pushes("acme/config"); n != 1 {
		t.Errorf("%d pushes reached the server, want 1", n)
	}
	if n := r.commits("main"); n != 1 {
		t.Errorf("main has %d commits, want 1 (nothing landed)", n)
	}
}

// The branch moves while the push is under way (the server loses the race
// for the ref lock): the edit is made again on the new tip, which keeps
// the other change, and the log says why it retried. So it goes with a
// server that takes filters (a clone without blobs, those under paths
// fetched) and one that does not (a whole clone).
func TestPushRetriesMovedBranch(t *testing.T) {
	t.Run("filters", func(t *testing.T) { testPushRetriesMovedBranch(t, true) })
	t.Run("no filters", func(t *testing.T) { testPushRetriesMovedBranch(t, false) })
}

func testPushRetriesMovedBranch(t *testing.T, filters bool) {
	skip := deployment + "# outside paths\n"
	r := newRemoteWith(t, map[string]string{"deploy.yaml": deployment, "other/deploy.yaml": deployment, "skip/deploy.yaml": skip}, filters)
	// Another pipeline's commit, on a side branch until the hook moves main
	// to it during the first push.
	dir := r.server.Clone(t, "acme/config")
	moved := strings.Replace(deployment, "envoy:v1.30.0", "envoy:v1.31.0", 1)
	if err := os.WriteFile(filepath.Join(dir, "deploy.yaml"), []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	r.server.Git(t, dir, "commit", "--quiet", "-am", "other pipeline")
	r.server.Git(t, dir, "push", "--quiet", "origin", "HEAD:refs/heads/side")
	// The hook runs in the push's quarantine; moving main must not.
	r.hook(`if [ ! -e "$GIT_DIR/moved" ]; then
	touch "$GIT_DIR/moved"
	env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES \
		git update-ref refs/heads/main refs/heads/side || exit 1
fi
exit 0
`)
	res := runAction(t, nil, "--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "1.1.0", "--paths", "deploy.yaml,other")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "push attempt 1: push rejected: the remote branch moved") || strings.Contains(res.stderr, "<nil>") {
		t.Errorf("the retry's log line does not say the branch moved:\n%s", res.stderr)
	}
	if got, want := r.file("main", "deploy.yaml"), strings.Replace(moved, "api:1.0.0", "api:1.1.0", 1); got != want {
		t.Errorf("deploy.yaml:\n%s\nwant the other pipeline's change and the bump:\n%s", got, want)
	}
	if got, want := r.file("main", "other/deploy.yaml"), strings.Replace(deployment, "api:1.0.0", "api:1.1.0", 1); got != want {
		t.Errorf("other/deploy.yaml:\n%s\nwant:\n%s", got, want)
	}
	if got := r.file("main", "skip/deploy.yaml"); got != skip {
		t.Errorf("skip/deploy.yaml, outside paths, changed:\n%s", got)
	}
	if n := r.commits("main"); n != 3 {
		t.Errorf("main has %d commits, want 3", n)
	}
	if res.outputs["files"] != "deploy.yaml,other/deploy.yaml" {
		t.Errorf("output files = %q", res.outputs["files"])
	}
}

// Ten pipelines bump ten images of one file at once through a front that
// refuses connections for 1.5 s (three tries gave up within that) and then
// resets some: clones, fetches and pushes ride it out, and every change
// lands exactly once.
func TestConcurrentFlakyServer(t *testing.T) {
	const n = 10
	var resets *atomic.Int32
	bumpAtOnce(t, n, func(r *remote) string {
		u, err := url.Parse(r.url)
		if err != nil {
			t.Fatal(err)
		}
		u.Host, resets = testenv.Flaky(t, u.Host, 1500*time.Millisecond, n)
		return u.String()
	})
	if got := resets.Load(); got != n {
		t.Errorf("the front reset %d connections, want %d", got, n)
	}
}

// bumpAtOnce has n pipelines bump n images of one kustomization at once,
// through the URL front gives, and checks that every change landed once.
func bumpAtOnce(t *testing.T, n int, front func(*remote) string, args ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n")
	for i := range n {
		fmt.Fprintf(&b, "  # service %d\n  - name: ghcr.io/acme/svc%d\n    newTag: 1.0.0\n", i, i)
	}
	r := newRemote(t, map[string]string{"kustomization.yaml": b.String()})
	repo := front(r)
	var wg sync.WaitGroup
	results := make([]runResult, n)
	for i := range n {
		wg.Go(func() {
			results[i] = runAction(t, nil, append([]string{"--repository", repo, "--token", secretToken,
				"--image", fmt.Sprintf("ghcr.io/acme/svc%d", i), "--tag", fmt.Sprintf("2.0.%d", i)}, args...)...)
		})
	}
	wg.Wait()
	for i, res := range results {
		if res.code != 0 || res.outputs["changed"] != "true" {
			t.Errorf("run %d: exit %d outputs %v\n%s", i, res.code, res.outputs, res.stderr)
		}
	}
	want := b.String()
	for i := range n {
		want = strings.Replace(want, fmt.Sprintf("svc%d\n    newTag: 1.0.0", i), fmt.Sprintf("svc%d\n    newTag: 2.0.%d", i, i), 1)
	}
	if got := r.file("main", "kustomization.yaml"); got != want {
		t.Errorf("kustomization.yaml after %d concurrent bumps:\n%s\nwant:\n%s", n, got, want)
	}
	if c := r.commits("main"); c != n+1 {
		t.Errorf("main has %d commits, want %d (one per bump)", c, n+1)
	}
}

// Paths that git quotes (a leading double quote, a newline, a backslash)
// or that hold spaces are committed as they are.
func TestPushOddPaths(t *testing.T) {
	names := []string{"apps/my app.yaml", `"quoted".yaml`, `back\slash.yaml`, "new\nline.yaml", "plain.yaml"}
	files := map[string]string{}
	for _, n := range names {
		files[n] = deployment
	}
	r := newRemote(t, files)
	res := runAction(t, nil, "--repository", r.url, "--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "1.1.0")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	want := strings.Replace(deployment, "api:1.0.0", "api:1.1.0", 1)
	for _, n := range names {
		if got := r.server.ReadFile(t, "acme/config", "main", n); got != want {
			t.Errorf("%q on the remote:\n%s\nwant:\n%s", n, got, want)
		}
	}
	if tree := gitCmd(t, r.home, r.bare, "ls-tree", "-r", "--name-only", "-z", "main"); strings.Count(tree, "\x00") != len(names) {
		t.Errorf("main holds %q, want just %q", tree, names)
	}
}
