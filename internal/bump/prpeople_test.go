package bump

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

const (
	routeReviewers = "/repos/acme/config/pulls/7/requested_reviewers"
	routeAssignees = "/repos/acme/config/issues/7/assignees"
)

// bodyOf returns the JSON bodies of the requests to method path, as they
// were sent.
func bodyOf(api *testenv.GitHubAPI, method, path string) []string {
	var out []string
	for _, req := range api.Requests() {
		if req.Method == method && req.Path == path {
			out = append(out, strings.TrimSpace(string(req.RawBody)))
		}
	}
	return out
}

func TestPullRequestPeopleDraftAutoMerge(t *testing.T) {
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	api := testenv.StartGitHubAPI(t)
	api.RequireToken(secretToken)
	pr := map[string]any{"number": 7, "node_id": "PR_kwDOAcme7", "html_url": "https://github.com/acme/config/pull/7", "draft": true}
	var opened, allowed atomic.Bool
	allowed.Store(true)
	api.Handle("GET", routePulls, func(*testenv.Request) (int, any) {
		if opened.Load() {
			return 0, []any{pr}
		}
		return 0, []any{}
	})
	api.Handle("POST", routePulls, func(*testenv.Request) (int, any) {
		opened.Store(true)
		return http.StatusCreated, pr
	})
	// After the first run, GitHub has what it was asked for.
	api.Handle("PATCH", routePull, func(*testenv.Request) (int, any) {
		updated := map[string]any{
			"requested_reviewers": []any{map[string]any{"login": "Alice"}},
			"requested_teams":     []any{map[string]any{"slug": "platform"}},
			"assignees":           []any{map[string]any{"login": "carol"}},
			"auto_merge":          map[string]any{"merge_method": "squash"},
		}
		for k, v := range pr {
			updated[k] = v
		}
		return 0, updated
	})
	api.Handle("POST", routeReviewers, func(*testenv.Request) (int, any) { return http.StatusCreated, pr })
	api.Handle("POST", routeAssignees, func(*testenv.Request) (int, any) { return http.StatusCreated, pr })
	api.HandleGraphQL("enablePullRequestAutoMerge", func(*testenv.Request) (int, any) {
		if !allowed.Load() {
			return 0, map[string]any{"data": map[string]any{"enablePullRequestAutoMerge": nil},
				"errors": []any{map[string]any{"type": "UNPROCESSABLE", "message": "Auto merge is not allowed for this repository"}}}
		}
		return 0, map[string]any{"data": map[string]any{"enablePullRequestAutoMerge": map[string]any{
			"pullRequest": map[string]any{"autoMergeRequest": map[string]any{"mergeMethod": "SQUASH"}}}}}
	})

	env := map[string]string{"GITHUB_SERVER_URL": r.server.URL}
	const branch = "bump/ghcr.io-acme-api"
	args := func(tag, autoMerge string) []string {
		return []string{"--repository", "acme/config", "--mode", "pull-request", "--github-api-url", api.URL,
			"--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", tag,
			"--pr-reviewers", "alice,bob", "--pr-team-reviewers", "acme/platform", "--pr-assignees", "carol",
			"--pr-draft", "--pr-auto-merge", autoMerge}
	}

	res := runAction(t, env, args("1.1.0", "squash")...)
	if res.code != 0 || res.outputs["pull-request-operation"] != "created" {
		t.Fatalf("first run: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	if tip := gitCmd(t, r.home, r.bare, "rev-parse", branch); res.outputs["pull-request-head-sha"] != tip || res.outputs["commit-sha"] != tip {
		t.Errorf("pull-request-head-sha %q commit-sha %q, want the branch tip %q", res.outputs["pull-request-head-sha"], res.outputs["commit-sha"], tip)
	}
	var create struct {
		Draft *bool `json:"draft"`
		Head  string
	}
	if err := json.Unmarshal([]byte(bodyOf(api, "POST", routePulls)[0]), &create); err != nil || create.Draft == nil || !*create.Draft || create.Head != branch {
		t.Errorf("create body %s (%v): want draft true from %s", bodyOf(api, "POST", routePulls), err, branch)
	}
	if got := bodyOf(api, "POST", routeReviewers); !slices.Equal(got, []string{`{"reviewers":["alice","bob"],"team_reviewers":["platform"]}`}) {
		t.Errorf("review requests %q", got)
	}
	if got := bodyOf(api, "POST", routeAssignees); !slices.Equal(got, []string{`{"assignees":["carol"]}`}) {
		t.Errorf("assignee requests %q", got)
	}
	var merges []map[string]any
	for _, req := range api.Requests() {
		if req.GraphQL != nil {
			merges = append(merges, req.GraphQL.Variables)
		}
	}
	if len(merges) != 1 || merges[0]["pullRequestId"] != "PR_kwDOAcme7" || merges[0]["mergeMethod"] != "SQUASH" {
		t.Errorf("auto-merge variables %v", merges)
	}

	// The update: only bob is not yet asked; carol is assigned and
	// auto-merge is on with squash, so nothing else is sent.
	before := len(api.Requests())
	res = runAction(t, env, args("1.2.0", "squash")...)
	if res.code != 0 || res.outputs["pull-request-operation"] != "updated" || res.outputs["pull-request-head-sha"] != gitCmd(t, r.home, r.bare, "rev-parse", branch) {
		t.Fatalf("second run: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	var got []string
	for _, req := range api.Requests()[before:] {
		got = append(got, req.String())
	}
	list := "GET " + routePulls + "?base=main&head=acme%3Abump%2Fghcr.io-acme-api&state=open"
	if want := []string{list, "PATCH " + routePull, "POST " + routeReviewers}; !slices.Equal(got, want) {
		t.Errorf("update requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := bodyOf(api, "POST", routeReviewers); len(got) != 2 || got[1] != `{"reviewers":["bob"]}` {
		t.Errorf("review requests on update %q", got)
	}
	if edit := bodyOf(api, "PATCH", routePull); len(edit) != 1 || strings.Contains(edit[0], "draft") {
		t.Errorf("update body %q must leave draft alone", edit)
	}

	// A repository that does not allow auto-merge: the pull request is
	// there, its outputs are set, and the run fails naming pr-auto-merge.
	allowed.Store(false)
	res = runAction(t, env, args("1.3.0", "rebase")...)
	if res.code != 3 || !strings.Contains(res.stderr, "pr-auto-merge") || !strings.Contains(res.stderr, "Auto merge is not allowed for this repository") ||
		res.outputs["pull-request-number"] != "7" || res.outputs["pull-request-head-sha"] == "" {
		t.Errorf("auto-merge refused: exit %d outputs %v, want 3 naming pr-auto-merge and GitHub's reason\n%s", res.code, res.outputs, res.stderr)
	}
}

func TestPullRequestInputsBadValues(t *testing.T) {
	api := testenv.StartGitHubAPI(t)
	base := []string{"--repository", "acme/config", "--github-api-url", api.URL,
		"--token", secretToken, "--image", "ghcr.io/acme/api", "--tag", "1.1.0"}
	for _, tc := range []struct {
		input, reason string
		args          []string
	}{
		{"pr-auto-merge", "is not merge, squash or rebase", []string{"--pr-auto-merge", "fast"}},
		{"pr-auto-merge", "is not merge, squash or rebase", []string{"--pr-auto-merge", "SQUASH"}},
		{"pr-reviewers", `"bad login" is not a GitHub login`, []string{"--pr-reviewers", "alice,bad login"}},
		{"pr-reviewers", "is not a GitHub login", []string{"--pr-reviewers", "dependabot[bot]"}},
		{"pr-assignees", "is not a GitHub login", []string{"--pr-assignees", "-carol"}},
		{"pr-team-reviewers", `not of the repository's owner "acme"`, []string{"--pr-team-reviewers", "other-org/platform"}},
		{"pr-team-reviewers", "is not a team slug", []string{"--pr-team-reviewers", "plat form"}},
		{"pr-draft", "is not a boolean", []string{"--pr-draft=maybe"}},
		{"pr-reviewers", "only applies to mode pull-request", []string{"--mode", "push", "--pr-reviewers", "alice"}},
	} {
		mode := []string{"--mode", "pull-request"}
		if tc.args[0] == "--mode" {
			mode = nil
		}
		res := runAction(t, nil, slices.Concat(base, mode, tc.args)...)
		if res.code != 2 || !strings.Contains(res.stderr, `input "`+tc.input+`"`) || !strings.Contains(res.stderr, tc.reason) {
			t.Errorf("%q: exit %d, want 2 naming %s: %s\n%s", tc.args, res.code, tc.input, tc.reason, res.stderr)
		}
	}
	if n := len(api.Requests()); n != 0 {
		t.Errorf("bad inputs reached the API %d times", n)
	}
}
