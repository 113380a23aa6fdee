package testenv

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// commitFile writes path in the clone dir and commits it.
func commitFile(t *testing.T, g *GitServer, dir, path, content, message string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Git(t, dir, "add", path)
	g.Git(t, dir, "commit", "--quiet", "--message", message)
	return g.Git(t, dir, "rev-parse", "HEAD")
}

func TestGitServerPush(t *testing.T) {
	t.Parallel()
	g := StartGitServer(t)
	url := g.NewRepo(t, "org/config", map[string]string{"apps/web/values.yaml": "image: v1\n", "README.md": "config\n"})
	if url != g.URL+"/org/config.git" {
		t.Errorf("NewRepo URL %q", url)
	}
	// Fixed author, committer and date: the same files give the same commit.
	other := StartGitServer(t)
	other.NewRepo(t, "copy", map[string]string{"apps/web/values.yaml": "image: v1\n", "README.md": "config\n"})
	initial := g.Head(t, "org/config", "main")
	if got := other.Head(t, "copy", "main"); got != initial {
		t.Errorf("initial commits differ across servers: %s vs %s", got, initial)
	}

	dir := g.Clone(t, "org/config")
	if b, err := os.ReadFile(filepath.Join(dir, "apps/web/values.yaml")); err != nil || string(b) != "image: v1\n" {
		t.Fatalf("clone has values.yaml %q, %v", b, err)
	}
	if branch := g.Git(t, dir, "branch", "--show-current"); branch != "main" {
		t.Errorf("clone is on %q, want main", branch)
	}
	sha := commitFile(t, g, dir, "apps/web/values.yaml", "image: v2\n", "bump web to v2")
	g.Git(t, dir, "push", "--quiet", "origin", "main")

	if got := g.Head(t, "org/config", "main"); got != sha {
		t.Errorf("server head %s, pushed %s", got, sha)
	}
	if got := g.ReadFile(t, "org/config", "main", "apps/web/values.yaml"); got != "image: v2\n" {
		t.Errorf("server values.yaml %q", got)
	}
	if got, want := g.Log(t, "org/config", "main"), []string{"bump web to v2", "Initial commit"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Log = %q, want %q", got, want)
	}
	if n := g.Pushes("org/config"); n != 1 {
		t.Errorf("Pushes = %d, want 1", n)
	}

	// A push over 1 MiB goes chunked, which net/http/cgi alone refuses.
	big := make([]byte, 2<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	commitFile(t, g, dir, "blob.bin", string(big), "add a large file")
	g.Git(t, dir, "push", "--quiet", "origin", "main")
	if got := g.Log(t, "org/config", "main")[0]; got != "add a large file" {
		t.Errorf("after the large push the head is %q", got)
	}
	if n := g.Pushes("org/config"); n != 2 {
		t.Errorf("Pushes = %d after the large push, want 2", n)
	}
}

func TestGitServerRejectsNonFastForward(t *testing.T) {
	t.Parallel()
	g := StartGitServer(t)
	g.NewRepo(t, "config", map[string]string{"a.txt": "a\n"})
	first := g.Clone(t, "config")
	second := g.Clone(t, "config")
	firstSHA := commitFile(t, g, first, "first.txt", "1\n", "first")
	commitFile(t, g, second, "second.txt", "2\n", "second")

	g.Git(t, first, "push", "--quiet", "origin", "main")
	_, stderr, err := g.TryGit(second, "push", "origin", "main")
	if err == nil {
		t.Fatal("the second push on the same base succeeded; want a non-fast-forward rejection")
	}
	if !strings.Contains(stderr, "rejected") || !(strings.Contains(stderr, "non-fast-forward") || strings.Contains(stderr, "fetch first")) {
		t.Errorf("git's stderr does not tell a non-fast-forward rejection:\n%s", stderr)
	}
	if got := g.Head(t, "config", "main"); got != firstSHA {
		t.Errorf("server head %s, want the first push's %s", got, firstSHA)
	}
	// git turns the push down itself from the advertised refs: only the
	// first push reaches receive-pack.
	if n := g.Pushes("config"); n != 1 {
		t.Errorf("Pushes = %d, want 1", n)
	}
}

func TestGitServerBasicAuth(t *testing.T) {
	t.Parallel()
	g := StartGitServer(t, WithBasicAuth("bot", "git-pw"))
	url := g.NewRepo(t, "config", map[string]string{"a.txt": "a\n"})

	resp, err := http.Get(url + "/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("anonymous info/refs: %d, WWW-Authenticate %q; want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// Clone uses the credentials in the URL.
	dir := g.Clone(t, "config")
	sha := commitFile(t, g, dir, "b.txt", "b\n", "add b")

	_, stderr, err := g.TryGit(dir, "push", url, "main")
	if err == nil {
		t.Fatal("push without credentials succeeded")
	}
	if n := g.Pushes("config"); n != 0 {
		t.Errorf("Pushes = %d after the refused push, want 0", n)
	}
	t.Logf("push without credentials: %s", strings.TrimSpace(stderr))

	header := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bot:wrong"))
	if _, _, err := g.TryGit(dir, "-c", "http.extraHeader="+header, "push", url, "main"); err == nil {
		t.Fatal("push with a wrong password succeeded")
	}

	header = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bot:git-pw"))
	g.Git(t, dir, "-c", "http.extraHeader="+header, "push", "--quiet", url, "main")
	if got := g.Head(t, "config", "main"); got != sha {
		t.Errorf("server head %s, pushed %s", got, sha)
	}
	if n := g.Pushes("config"); n != 1 {
		t.Errorf("Pushes = %d, want 1", n)
	}
	if got := g.AuthRepoURL("config"); !strings.HasPrefix(got, "http://bot:git-pw@127.0.0.1:") {
		t.Errorf("AuthRepoURL = %q", got)
	}
}
