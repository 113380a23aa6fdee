package diffconfig

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// TestRepoPath: with repo-path, diff-config reads the checkout there, not
// the one holding the working directory, and takes relative paths from
// it; a repo-path that is no checkout is exit 2 naming repo-path.
func TestRepoPath(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "config")
	git(t, t.TempDir(), "init", "-q", "-b", "main", repo)
	write(t, repo, "app/kustomization.yaml", "resources: [cm.yaml]\n")
	write(t, repo, "app/cm.yaml", cm("blue"))
	write(t, repo, "other/cm.yaml", cm("red"))
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "one")
	write(t, repo, "app/cm.yaml", cm("green"))
	write(t, repo, "other/cm.yaml", cm("pink"))
	git(t, repo, "commit", "-qam", "two")

	// The working directory is no checkout at all.
	t.Chdir(t.TempDir())
	getenv := func(k string) string {
		if k == "PATH" || k == "HOME" {
			return os.Getenv(k)
		}
		return ""
	}
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append([]string{"diff-config", "--output-format", "text"}, args...), getenv, &out, &errb)
		return code, out.String() + errb.String()
	}
	code, out := run("--repo-path", repo, "--path", "app")
	if code != action.ExitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "=== app (kustomize)") || !strings.Contains(out, "+  color: green") || !strings.Contains(out, "changed-units=1\n") {
		t.Errorf("the diff of app in %s is not shown:\n%s", repo, out)
	}
	if strings.Contains(out, "pink") {
		t.Errorf("path app, taken from repo-path, diffed other/ too:\n%s", out)
	}
	// A directory inside the checkout names the same repository.
	if code, out := run("--repo-path", filepath.Join(repo, "app"), "--path", "."); code != action.ExitOK || !strings.Contains(out, "changed-units=1\n") {
		t.Errorf("repo-path app/: exit %d:\n%s", code, out)
	}
	for _, bad := range []string{t.TempDir(), filepath.Join(repo, "missing")} {
		code, out := run("--repo-path", bad)
		if code != action.ExitUsage || !strings.Contains(out, `input "repo-path"`) {
			t.Errorf("repo-path %s: exit %d, want 2 naming repo-path:\n%s", bad, code, out)
		}
	}
}
