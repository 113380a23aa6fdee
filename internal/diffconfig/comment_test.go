package diffconfig

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

const secretToken = "ghs_diffconfigtesttoken0123456789"

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func cm(color string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {color: " + color + "}\n"
}

// TestCommentCreatedThenUpdated: the first run creates the pull request
// comment, the second edits that same comment, and a run with no changes
// edits it to say so rather than leaving a stale diff.
func TestCommentCreatedThenUpdated(t *testing.T) {
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	write(t, repo, "app/kustomization.yaml", "resources: [cm.yaml]\n")
	write(t, repo, "app/cm.yaml", cm("blue"))
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "one")
	write(t, repo, "app/cm.yaml", cm("green"))
	git(t, repo, "commit", "-qam", "two")

	api := testenv.StartGitHubAPI(t)
	api.RequireToken(secretToken)
	var mu sync.Mutex
	comments := []map[string]any{{"id": 7, "body": "an unrelated review comment"}}
	api.Handle("GET", "/repos/acme/config/issues/12/comments", func(*testenv.Request) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		return http.StatusOK, comments
	})
	api.Handle("POST", "/repos/acme/config/issues/12/comments", func(r *testenv.Request) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		c := map[string]any{"id": 99, "body": r.Body.(map[string]any)["body"]}
		comments = append(comments, c)
		return http.StatusCreated, c
	})
	api.Handle("PATCH", "/repos/acme/config/issues/comments/{id}", func(r *testenv.Request) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		if r.PathValue("id") != "99" {
			t.Errorf("edited comment %s, want 99", r.PathValue("id"))
			return http.StatusNotFound, nil
		}
		comments[1]["body"] = r.Body.(map[string]any)["body"]
		return http.StatusOK, comments[1]
	})
	api.Expect("POST", "/repos/acme/config/issues/12/comments", 1)
	api.Expect("PATCH", "/repos/acme/config/issues/comments/{id}", 2)

	t.Chdir(repo)
	runDiff := func(args ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		getenv := func(k string) string {
			return map[string]string{"INPUT_TOKEN": secretToken, "GITHUB_REPOSITORY": "acme/config", "PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME")}[k]
		}
		all := append([]string{"diff-config", "--comment", "--pull-request", "12", "--github-api-url", api.URL, "--output-format", "text"}, args...)
		if code := Main(context.Background(), all, getenv, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), secretToken) {
			t.Fatal("the token was printed")
		}
		return stdout.String(), stderr.String()
	}
	body := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(comments) != 2 {
			t.Fatalf("%d comments, want the unrelated one and one of diff-config", len(comments))
		}
		return comments[1]["body"].(string)
	}

	_, stderr := runDiff()
	if !strings.Contains(stderr, "created comment") {
		t.Errorf("first run did not create the comment:\n%s", stderr)
	}
	if b := body(); !strings.HasPrefix(b, marker) || !strings.Contains(b, "+data:\n+  color: green") && !strings.Contains(b, "+  color: green") {
		t.Errorf("first comment lacks the diff:\n%s", b)
	}

	write(t, repo, "app/cm.yaml", cm("red"))
	git(t, repo, "commit", "-qam", "three")
	_, stderr = runDiff()
	if !strings.Contains(stderr, "updated comment") {
		t.Errorf("second run did not update the comment:\n%s", stderr)
	}
	if b := body(); !strings.Contains(b, "+  color: red") || strings.Contains(b, "+  color: green") {
		t.Errorf("second comment is not the new diff:\n%s", b)
	}

	// A change that renders the same: the comment says there is none.
	write(t, repo, "app/cm.yaml", "# same\n"+cm("red"))
	git(t, repo, "commit", "-qam", "four")
	runDiff()
	if b := body(); !strings.Contains(b, "diff-config: no changes") || strings.Contains(b, "color: red") {
		t.Errorf("no-change run left:\n%s", b)
	}
}
