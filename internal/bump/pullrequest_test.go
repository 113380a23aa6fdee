package bump

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

const (
	routePulls  = "/repos/acme/config/pulls"
	routePull   = "/repos/acme/config/pulls/7"
	routeLabels = "/repos/acme/config/issues/7/labels"
)

func TestPullRequestMode(t *testing.T) {
	// repository: acme/config resolves against GITHUB_SERVER_URL, the git
	// server, which demands the token as GitHub does.
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	api := testenv.StartGitHubAPI(t)
	api.RequireToken(secretToken)
	pr := map[string]any{"number": 7, "html_url": "https://github.com/acme/config/pull/7"}
	var opened, failing atomic.Bool
	// fail answers 502 while failing is set: the API is down.
	fail := func(fn func(*testenv.Request) (int, any)) func(*testenv.Request) (int, any) {
		return func(req *testenv.Request) (int, any) {
			if failing.Load() {
				return http.StatusBadGateway, map[string]string{"message": "Bad Gateway"}
			}
			return fn(req)
		}
	}
	api.Handle("GET", routePulls, fail(func(*testenv.Request) (int, any) {
		if opened.Load() {
			return http.StatusOK, []any{pr}
		}
		return http.StatusOK, []any{}
	}))
	api.Handle("POST", routePulls, fail(func(*testenv.Request) (int, any) {
		opened.Store(true)
		return http.StatusCreated, pr
	}))
	api.Handle("PATCH", routePull, fail(func(*testenv.Request) (int, any) { return http.StatusOK, pr }))
	api.Handle("POST", routeLabels, fail(func(*testenv.Request) (int, any) { return http.StatusOK, []any{} }))
	// Two listings, then apiAttempts tries of the third while the API is down.
	api.Expect("GET", routePulls, 2+apiAttempts)
	api.Expect("POST", routePulls, 1)
	api.Expect("PATCH", routePull, 1)
	api.Expect("POST", routeLabels, 2)

	env := map[string]string{"GITHUB_SERVER_URL": r.server.URL, "GITHUB_REPOSITORY": "acme/api", "GITHUB_SHA": "0123abc"}
	args := func(tag string) []string {
		return []string{"--repository", "acme/config", "--mode", "pull-request", "--github-api-url", api.URL,
			"--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", tag, "--pr-labels", "bump,automated"}
	}
	const branch = "bump/ghcr.io-acme-api"
	bodies := func(method, path string) []map[string]any {
		var out []map[string]any
		for _, req := range api.Requests() {
			if req.Method == method && req.Path == path {
				b, _ := req.Body.(map[string]any)
				out = append(out, b)
			}
		}
		return out
	}

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
	create := bodies("POST", routePulls)
	if len(create) != 1 {
		t.Fatalf("%d create requests, want 1: %v", len(create), api.Requests())
	}
	c := create[0]
	if c["title"] != "Bump ghcr.io/acme/api to 1.1.0" || c["head"] != branch || c["base"] != "main" {
		t.Errorf("create body %v", c)
	}
	body, _ := c["body"].(string)
	for _, s := range []string{"| deploy.yaml | 10 | `ghcr.io/acme/api:1.0.0` | `ghcr.io/acme/api:1.1.0` |", "Source: " + r.server.URL + "/acme/api/commit/0123abc"} {
		if !strings.Contains(body, s) {
			t.Errorf("PR body lacks %q:\n%s", s, body)
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
	if edit := bodies("PATCH", routePull); len(edit) != 1 || edit[0]["title"] != "Bump ghcr.io/acme/api to 1.2.0" {
		t.Errorf("update bodies %v", edit)
	}
	var labels [][]string
	for _, req := range api.Requests() {
		if req.Method == "POST" && req.Path == routeLabels {
			var l []string
			if err := req.Decode(&l); err != nil {
				t.Error(err)
			}
			labels = append(labels, l)
		}
	}
	if len(labels) != 2 || !slices.Equal(labels[1], []string{"bump", "automated"}) {
		t.Errorf("label bodies %q", labels)
	}
	var got []string
	for _, req := range api.Requests() {
		got = append(got, req.String())
	}
	list := "GET " + routePulls + "?base=main&head=acme%3Abump%2Fghcr.io-acme-api&state=open"
	want := []string{list, "POST " + routePulls, "POST " + routeLabels, list, "PATCH " + routePull, "POST " + routeLabels}
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// An API that keeps failing: a few tries, then exit 3.
	failing.Store(true)
	before := len(api.Requests())
	res = runAction(t, env, args("1.3.0")...)
	if n := len(api.Requests()) - before; res.code != 3 || n != apiAttempts {
		t.Errorf("API 502: exit %d after %d requests, want 3 after %d\n%s", res.code, n, apiAttempts, res.stderr)
	}
}
