package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeTB stands in for the test's testing.TB so that a helper's failures
// and cleanups can be observed instead of failing the real test. Fatal and
// Skip end the goroutine, as testing's do: run such code with inGoroutine.
type fakeTB struct {
	testing.TB

	mu       sync.Mutex
	errors   []string
	skipped  string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) {
	f.Errorf("%s", fmt.Sprint(args...))
	runtime.Goexit()
}

func (f *fakeTB) Skip(args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errors) > 0
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// runCleanups runs the registered cleanups last first, as testing does.
func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func (f *fakeTB) joinedErrors() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errors, "\n")
}

// inGoroutine runs fn where runtime.Goexit from a fake Fatal or Skip ends
// only fn.
func inGoroutine(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func send(t *testing.T, method, url, authorization, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestGitHubAPIHandledRequest(t *testing.T) {
	t.Parallel()
	api := StartGitHubAPI(t)
	api.RequireToken("ghs_test")
	api.Handle("POST", "/repos/{owner}/{repo}/pulls", func(r *Request) (int, any) {
		var in struct{ Title, Head, Base string }
		if err := r.Decode(&in); err != nil {
			return http.StatusUnprocessableEntity, map[string]string{"message": err.Error()}
		}
		return http.StatusCreated, map[string]any{
			"number":   7,
			"title":    in.Title,
			"html_url": "https://github.com/" + r.PathValue("owner") + "/" + r.PathValue("repo") + "/pull/7",
		}
	})
	api.Handle("GET", "GET /repos/{owner}/{repo}/pulls", func(r *Request) (int, any) {
		return 0, []any{}
	})
	api.Expect("POST", "/repos/{owner}/{repo}/pulls", 1)
	api.Expect("GET", "/repos/{owner}/{repo}/pulls", 1)
	api.Expect("DELETE", "/repos/{owner}/{repo}", 0)

	status, body := send(t, "POST", api.URL+"/repos/acme/config/pulls", "Bearer ghs_test", `{"title":"bump web","head":"bump/web","base":"main"}`)
	if status != http.StatusCreated {
		t.Fatalf("POST pulls: %d %s", status, body)
	}
	var out struct {
		Number  int    `json:"number"`
		HTMLURL string `json:"html_url"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Number != 7 || out.HTMLURL != "https://github.com/acme/config/pull/7" {
		t.Errorf("response %s (%v)", body, err)
	}
	status, body = send(t, "GET", api.URL+"/repos/acme/config/pulls?state=open&head=acme:bump/web", "token ghs_test", "")
	if status != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("GET pulls: %d %s", status, body)
	}

	reqs := api.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests recorded, want 2", len(reqs))
	}
	post := reqs[0]
	if post.Method != "POST" || post.Path != "/repos/acme/config/pulls" || post.Route != "POST /repos/{owner}/{repo}/pulls" {
		t.Errorf("recorded %s route %q", post, post.Route)
	}
	if m, ok := post.Body.(map[string]any); !ok || m["title"] != "bump web" || m["base"] != "main" {
		t.Errorf("recorded body %#v", post.Body)
	}
	if got := post.Header.Get("Authorization"); got != "Bearer ghs_test" {
		t.Errorf("recorded Authorization %q", got)
	}
	if got := reqs[1].Query.Get("head"); got != "acme:bump/web" {
		t.Errorf("recorded query head %q", got)
	}
	if reqs[1].Body != nil {
		t.Errorf("GET recorded a body %#v", reqs[1].Body)
	}
	if n := api.Hits("GET", "/repos/{owner}/{repo}/pulls"); n != 1 {
		t.Errorf("Hits = %d", n)
	}
	if len(api.Unhandled()) != 0 {
		t.Errorf("unhandled: %v", api.Unhandled())
	}
}

func TestGitHubAPIReportsWhatTheTestDidNotPlan(t *testing.T) {
	t.Parallel()
	fake := &fakeTB{TB: t}
	api := StartGitHubAPI(fake)
	api.RequireToken("ghs_test")
	api.Handle("GET", "/repos/{owner}/{repo}", func(r *Request) (int, any) {
		return 0, map[string]string{"name": r.PathValue("repo")}
	})
	api.Handle("POST", "/repos/{owner}/{repo}/issues", func(r *Request) (int, any) {
		return http.StatusCreated, nil
	})
	api.Expect("GET", "/repos/{owner}/{repo}", 2)

	if status, _ := send(t, "GET", api.URL+"/repos/acme/config", "token ghs_test", ""); status != http.StatusOK {
		t.Errorf("handled GET: %d", status)
	}
	status, body := send(t, "GET", api.URL+"/nope", "token ghs_test", "")
	if status != http.StatusNotFound || !strings.Contains(body, "Not Found") {
		t.Errorf("unhandled GET: %d %s", status, body)
	}
	// A path that matches with another method is unhandled too, not a 405.
	if status, _ := send(t, "DELETE", api.URL+"/repos/acme/config", "token ghs_test", ""); status != http.StatusNotFound {
		t.Errorf("unhandled DELETE: %d", status)
	}
	if status, _ := send(t, "POST", api.URL+"/repos/acme/config/issues", "", `{}`); status != http.StatusUnauthorized {
		t.Errorf("request without a token: %d, want 401", status)
	}

	unhandled := api.Unhandled()
	if len(unhandled) != 2 || unhandled[0].String() != "GET /nope" || unhandled[1].String() != "DELETE /repos/acme/config" {
		t.Errorf("Unhandled() = %v", unhandled)
	}
	if fake.Failed() {
		t.Fatalf("failed before cleanup: %s", fake.joinedErrors())
	}

	fake.runCleanups()
	got := fake.joinedErrors()
	for _, want := range []string{
		"no route handles GET /nope",
		"no route handles DELETE /repos/acme/config",
		"POST /repos/acme/config/issues without the expected token",
		`"GET /repos/{owner}/{repo}" hit 1 times, want 2`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("cleanup errors lack %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != 4 {
		t.Errorf("%d errors at cleanup, want 4:\n%s", n, got)
	}
}

func TestRequireBinary(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			fake := &fakeTB{TB: t}
			inGoroutine(func() { requireBinary(fake, "testenv-no-such-program", "no-such-package") })
			msg := fake.joinedErrors() + fake.skipped
			if !strings.Contains(msg, `"testenv-no-such-program"`) || !strings.Contains(msg, "apt-get install -y no-such-package") {
				t.Errorf("message does not name the program and package: %q", msg)
			}
			if ci == "true" && (!fake.Failed() || fake.skipped != "") {
				t.Errorf("under CI=true a missing program must fail, not skip: errors %q skipped %q", fake.joinedErrors(), fake.skipped)
			}
			if ci == "" && (fake.Failed() || fake.skipped == "") {
				t.Errorf("outside CI a missing program must skip: errors %q skipped %q", fake.joinedErrors(), fake.skipped)
			}
		})
	}
	if path := requireBinary(t, "git", "git"); path == "" {
		t.Error("requireBinary found no git")
	}
}

func TestGitHubAPIGraphQL(t *testing.T) {
	t.Parallel()
	f := &fakeTB{TB: t}
	var got *GraphQLRequest
	var api *GitHubAPI
	inGoroutine(func() {
		api = StartGitHubAPI(f)
		api.HandleGraphQL("createCommitOnBranch", func(r *Request) (int, any) {
			got = r.GraphQL
			return 0, map[string]any{"data": map[string]any{"createCommitOnBranch": map[string]any{"commit": map[string]string{"oid": "abc"}}}}
		})
		api.Expect("GRAPHQL", "createCommitOnBranch", 1)
	})
	query := `mutation Commit($input: CreateCommitOnBranchInput! = {message: {headline: "x"}}) { c: createCommitOnBranch(input: $input) { commit { oid } } }`
	body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"input": map[string]any{"expectedHeadOid": "123"}}})
	if status, out := send(t, "POST", api.URL+"/graphql", "", string(body)); status != http.StatusOK || !strings.Contains(out, `"oid":"abc"`) {
		t.Fatalf("createCommitOnBranch: %d %s", status, out)
	}
	if got == nil || got.Field != "createCommitOnBranch" || got.Variables["input"].(map[string]any)["expectedHeadOid"] != "123" {
		t.Errorf("handler saw %+v", got)
	}
	// A field without a handler is unhandled, as a REST path without a route.
	body, _ = json.Marshal(map[string]any{"query": `mutation { mergePullRequest(input: {}) { clientMutationId } }`})
	if status, _ := send(t, "POST", api.URL+"/graphql", "", string(body)); status != http.StatusNotFound {
		t.Errorf("mergePullRequest without a handler: %d, want 404", status)
	}
	if reqs := api.Requests(); len(reqs) != 2 || reqs[1].String() != "POST /graphql mergePullRequest" {
		t.Errorf("requests %v", reqs)
	}
	inGoroutine(f.runCleanups)
	if errs := f.joinedErrors(); !strings.Contains(errs, "no route handles POST /graphql mergePullRequest") || strings.Count(errs, "\n") != 0 {
		t.Errorf("cleanup errors:\n%s", errs)
	}
}
