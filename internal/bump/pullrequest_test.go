package bump

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub answers the pull request endpoints bump-manifest uses and
// records every request; anything else fails the test.
type fakeGitHub struct {
	t        *testing.T
	mu       sync.Mutex
	requests []string
	bodies   map[string][]any
	open     []map[string]any
	status   int // when set, every request gets it
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	f.requests = append(f.requests, key+"?"+r.URL.RawQuery)
	if got := r.Header.Get("Authorization"); got != "Bearer "+secretToken {
		f.t.Errorf("%s: Authorization %q", key, got)
	}
	var body any
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			f.t.Errorf("%s: body is not JSON: %s", key, b)
		}
	}
	f.bodies[key] = append(f.bodies[key], body)
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	pr := map[string]any{"number": 7, "html_url": "https://github.com/acme/config/pull/7"}
	switch key {
	case "GET /repos/acme/config/pulls":
		json.NewEncoder(w).Encode(f.open)
	case "POST /repos/acme/config/pulls":
		f.open = append(f.open, pr)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(pr)
	case "PATCH /repos/acme/config/pulls/7":
		json.NewEncoder(w).Encode(pr)
	case "POST /repos/acme/config/issues/7/labels":
		json.NewEncoder(w).Encode([]any{})
	default:
		f.t.Errorf("unexpected request %s", key)
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestPullRequestMode(t *testing.T) {
	r := newFileRemote(t, map[string]string{"deploy.yaml": deployment})
	// owner/name resolves against GITHUB_SERVER_URL: point it at the
	// directory holding acme/config.git.
	server := filepath.Join(t.TempDir(), "srv")
	if err := os.MkdirAll(filepath.Join(server, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(r.bare, filepath.Join(server, "acme", "config.git")); err != nil {
		t.Fatal(err)
	}
	r.bare = filepath.Join(server, "acme", "config.git")
	gh := &fakeGitHub{t: t, bodies: map[string][]any{}}
	api := httptest.NewServer(gh)
	defer api.Close()
	env := map[string]string{"GITHUB_SERVER_URL": "file://" + server, "GITHUB_REPOSITORY": "acme/api", "GITHUB_SHA": "0123abc"}
	args := func(tag string) []string {
		return []string{"--repository", "acme/config", "--mode", "pull-request", "--github-api-url", api.URL,
			"--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", tag, "--pr-labels", "bump,automated"}
	}
	const branch = "bump/ghcr.io-acme-api"

	res := runAction(t, env, args("1.1.0")...)
	if res.code != 0 || res.outputs["pull-request-operation"] != "created" || res.outputs["pull-request-number"] != "7" ||
		res.outputs["pull-request-url"] != "https://github.com/acme/config/pull/7" {
		t.Fatalf("first run: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	if got := r.file(branch, "deploy.yaml"); !strings.Contains(got, "ghcr.io/acme/api:1.1.0 # pinned by CI") {
		t.Errorf("PR branch deploy.yaml:\n%s", got)
	}
	if got := r.file("main", "deploy.yaml"); got != deployment {
		t.Errorf("main changed in pull-request mode:\n%s", got)
	}
	create := gh.bodies["POST /repos/acme/config/pulls"]
	if len(create) != 1 {
		t.Fatalf("%d create requests, want 1: %v", len(create), gh.requests)
	}
	c := create[0].(map[string]any)
	if c["title"] != "Bump ghcr.io/acme/api to 1.1.0" || c["head"] != branch || c["base"] != "main" {
		t.Errorf("create body %v", c)
	}
	for _, s := range []string{"| deploy.yaml | 10 | `ghcr.io/acme/api:1.0.0` | `ghcr.io/acme/api:1.1.0` |", "Source: file://" + server + "/acme/api/commit/0123abc"} {
		if !strings.Contains(c["body"].(string), s) {
			t.Errorf("PR body lacks %q:\n%s", s, c["body"])
		}
	}

	res = runAction(t, env, args("1.2.0")...)
	if res.code != 0 || res.outputs["pull-request-operation"] != "updated" || res.outputs["pull-request-number"] != "7" {
		t.Fatalf("second run: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	if got := r.file(branch, "deploy.yaml"); !strings.Contains(got, "ghcr.io/acme/api:1.2.0 # pinned by CI") {
		t.Errorf("PR branch after update:\n%s", got)
	}
	if n := r.commits(branch); n != 2 {
		t.Errorf("PR branch has %d commits, want 2 (main plus one bump)", n)
	}
	edit := gh.bodies["PATCH /repos/acme/config/pulls/7"]
	if len(edit) != 1 || edit[0].(map[string]any)["title"] != "Bump ghcr.io/acme/api to 1.2.0" {
		t.Errorf("update bodies %v", edit)
	}
	labels := gh.bodies["POST /repos/acme/config/issues/7/labels"]
	if len(labels) != 2 || len(labels[1].([]any)) != 2 || labels[1].([]any)[0] != "bump" || labels[1].([]any)[1] != "automated" {
		t.Errorf("label bodies %v", labels)
	}
	wantReq := []string{
		"GET /repos/acme/config/pulls?base=main&head=acme%3Abump%2Fghcr.io-acme-api&state=open",
		"POST /repos/acme/config/pulls?", "POST /repos/acme/config/issues/7/labels?",
		"GET /repos/acme/config/pulls?base=main&head=acme%3Abump%2Fghcr.io-acme-api&state=open",
		"PATCH /repos/acme/config/pulls/7?", "POST /repos/acme/config/issues/7/labels?",
	}
	if strings.Join(gh.requests, "\n") != strings.Join(wantReq, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(gh.requests, "\n"), strings.Join(wantReq, "\n"))
	}

	// An API that keeps failing: a few tries, then exit 3.
	gh.status = http.StatusBadGateway
	gh.requests = nil
	res = runAction(t, env, args("1.3.0")...)
	if res.code != 3 || len(gh.requests) != apiAttempts {
		t.Errorf("API 502: exit %d after %d requests, want 3 after %d\n%s", res.code, len(gh.requests), apiAttempts, res.stderr)
	}
}
