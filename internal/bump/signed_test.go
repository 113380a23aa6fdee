package bump

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// githubGit is the part of GitHub's API that writes commits and refs,
// backed by the remote's bare repository, so that what the action makes
// through the API is what the next clone sees.
type githubGit struct {
	r   *remote
	api *testenv.GitHubAPI

	mu sync.Mutex
	// beforeCommit runs before each createCommitOnBranch is applied: a
	// test moves the branch there, as a concurrent pipeline would.
	beforeCommit func(n int)
	commits      []map[string]any // createCommitOnBranch inputs, in order
	// refuse, when set, answers every createCommitOnBranch with this error.
	refuse string
}

// git runs git in the bare repository; handlers cannot t.Fatal.
func (g *githubGit) git(stdin []byte, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = g.r.bare
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + g.r.home, "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C",
		"GIT_AUTHOR_NAME=GitHub", "GIT_AUTHOR_EMAIL=noreply@github.com", "GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com"}, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func (g *githubGit) tip(branch string) string {
	sha, _ := g.git(nil, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	return sha
}

func gqlErrors(typ, msg string) map[string]any {
	return map[string]any{"data": nil, "errors": []any{map[string]any{"type": typ, "message": msg}}}
}

func newGitHubGit(t *testing.T, r *remote, api *testenv.GitHubAPI) *githubGit {
	g := &githubGit{r: r, api: api}
	api.HandleGraphQL("createCommitOnBranch", func(req *testenv.Request) (int, any) {
		g.mu.Lock()
		defer g.mu.Unlock()
		input, _ := req.GraphQL.Variables["input"].(map[string]any)
		g.commits = append(g.commits, input)
		if g.beforeCommit != nil {
			g.beforeCommit(len(g.commits))
		}
		if g.refuse != "" {
			return 0, gqlErrors("FORBIDDEN", g.refuse)
		}
		var in struct {
			Branch struct {
				RepositoryNameWithOwner, BranchName string
			}
			ExpectedHeadOid string
			Message         struct{ Headline, Body string }
			FileChanges     struct {
				Additions []struct{ Path, Contents string }
				Deletions []struct{ Path string }
			}
		}
		if err := jsonRoundTrip(input, &in); err != nil || in.Branch.RepositoryNameWithOwner != "acme/config" || in.Message.Headline == "" || len(in.FileChanges.Additions) == 0 {
			return 0, gqlErrors("INVALID", fmt.Sprintf("bad input %v", input))
		}
		tip := g.tip(in.Branch.BranchName)
		if tip == "" {
			return 0, gqlErrors("NOT_FOUND", "Could not resolve to a ref named 'refs/heads/"+in.Branch.BranchName+"'.")
		}
		if tip != in.ExpectedHeadOid {
			return 0, gqlErrors("STALE_DATA", fmt.Sprintf("Expected branch to point to %q but it did not. Pull and try again.", in.ExpectedHeadOid))
		}
		index := filepath.Join(t.TempDir(), "index")
		env := []string{"GIT_INDEX_FILE=" + index}
		oid, err := func() (string, error) {
			if _, err := g.git(nil, env, "read-tree", tip); err != nil {
				return "", err
			}
			for _, a := range in.FileChanges.Additions {
				content, err := base64.StdEncoding.DecodeString(a.Contents)
				if err != nil {
					return "", err
				}
				blob, err := g.git(content, nil, "hash-object", "-w", "--stdin")
				if err != nil {
					return "", err
				}
				if _, err := g.git(nil, env, "update-index", "--add", "--cacheinfo", "100644,"+blob+","+a.Path); err != nil {
					return "", err
				}
			}
			tree, err := g.git(nil, env, "write-tree")
			if err != nil {
				return "", err
			}
			msg := in.Message.Headline
			if in.Message.Body != "" {
				msg += "\n\n" + in.Message.Body
			}
			oid, err := g.git([]byte(msg), nil, "commit-tree", tree, "-p", tip)
			if err != nil {
				return "", err
			}
			_, err = g.git(nil, nil, "update-ref", "refs/heads/"+in.Branch.BranchName, oid, tip)
			return oid, err
		}()
		if err != nil {
			return http.StatusInternalServerError, err.Error()
		}
		return 0, map[string]any{"data": map[string]any{"createCommitOnBranch": map[string]any{"commit": map[string]any{"oid": oid}}}}
	})
	api.Handle("GET", "/repos/acme/config/git/ref/heads/{branch...}", func(req *testenv.Request) (int, any) {
		sha := g.tip(req.PathValue("branch"))
		if sha == "" {
			return http.StatusNotFound, map[string]string{"message": "Not Found"}
		}
		return 0, map[string]any{"ref": "refs/heads/" + req.PathValue("branch"), "object": map[string]string{"type": "commit", "sha": sha}}
	})
	api.Handle("POST", "/repos/acme/config/git/refs", func(req *testenv.Request) (int, any) {
		var in struct{ Ref, SHA string }
		if err := req.Decode(&in); err != nil || !strings.HasPrefix(in.Ref, "refs/heads/") || len(in.SHA) != 40 {
			return http.StatusUnprocessableEntity, map[string]string{"message": fmt.Sprintf("bad body %s", req.RawBody)}
		}
		if _, err := g.git(nil, nil, "update-ref", in.Ref, in.SHA, strings.Repeat("0", 40)); err != nil {
			return http.StatusUnprocessableEntity, map[string]string{"message": "Reference already exists"}
		}
		return http.StatusCreated, map[string]any{"ref": in.Ref, "object": map[string]string{"sha": in.SHA}}
	})
	api.Handle("PATCH", "/repos/acme/config/git/refs/heads/{branch...}", func(req *testenv.Request) (int, any) {
		var in struct {
			SHA   string
			Force bool
		}
		if err := req.Decode(&in); err != nil || len(in.SHA) != 40 || !in.Force {
			return http.StatusUnprocessableEntity, map[string]string{"message": fmt.Sprintf("bad body %s", req.RawBody)}
		}
		if _, err := g.git(nil, nil, "update-ref", "refs/heads/"+req.PathValue("branch"), in.SHA); err != nil {
			return http.StatusUnprocessableEntity, map[string]string{"message": err.Error()}
		}
		return 0, map[string]any{"ref": "refs/heads/" + req.PathValue("branch"), "object": map[string]string{"sha": in.SHA}}
	})
	api.Handle("DELETE", "/repos/acme/config/git/refs/heads/{branch...}", func(req *testenv.Request) (int, any) {
		if _, err := g.git(nil, nil, "update-ref", "-d", "refs/heads/"+req.PathValue("branch")); err != nil {
			return http.StatusUnprocessableEntity, map[string]string{"message": "Reference does not exist"}
		}
		return http.StatusNoContent, nil
	})
	return g
}

// otherPush commits a file to main in the bare repository, as another
// pipeline's push would.
func (g *githubGit) otherPush(name string) error {
	tip := g.tip("main")
	index := filepath.Join(g.r.home, "other-index")
	env := []string{"GIT_INDEX_FILE=" + index}
	defer os.Remove(index)
	blob, err := g.git([]byte("other: "+name+"\n"), nil, "hash-object", "-w", "--stdin")
	if err != nil {
		return err
	}
	for _, args := range [][]string{{"read-tree", tip}, {"update-index", "--add", "--cacheinfo", "100644," + blob + "," + name}} {
		if _, err := g.git(nil, env, args...); err != nil {
			return err
		}
	}
	tree, err := g.git(nil, env, "write-tree")
	if err != nil {
		return err
	}
	oid, err := g.git([]byte("other pipeline"), nil, "commit-tree", tree, "-p", tip)
	if err != nil {
		return err
	}
	_, err = g.git(nil, nil, "update-ref", "refs/heads/main", oid, tip)
	return err
}

func (g *githubGit) expected() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, in := range g.commits {
		out = append(out, fmt.Sprint(in["expectedHeadOid"]))
	}
	return out
}

func TestSignCommitsPushRetriesOnMovedHead(t *testing.T) {
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	api := testenv.StartGitHubAPI(t)
	api.RequireToken(secretToken)
	g := newGitHubGit(t, r, api)
	start := g.tip("main")
	var moved string
	g.beforeCommit = func(n int) {
		if n == 1 {
			if err := g.otherPush("other.yaml"); err != nil {
				t.Error(err)
			}
			moved = g.tip("main")
		}
	}
	env := map[string]string{"GITHUB_SERVER_URL": r.server.URL}
	args := []string{"--repository", "acme/config", "--github-api-url", api.URL, "--token", secretToken,
		"--image", "ghcr.io/acme/api", "--tag", "1.1.0", "--sign-commits"}
	res := runAction(t, env, args...)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	// The first commit expected the cloned tip, found the other push, and
	// the edit was made again on top of it.
	if got := g.expected(); !slices.Equal(got, []string{start, moved}) {
		t.Errorf("expectedHeadOid %q, want %q then %q", got, start, moved)
	}
	tip := g.tip("main")
	if res.outputs["commit-sha"] != tip {
		t.Errorf("commit-sha %q, main at %q", res.outputs["commit-sha"], tip)
	}
	if who := gitCmd(t, r.home, r.bare, "log", "-1", "--format=%cn %P", "main"); who != "GitHub "+moved {
		t.Errorf("main's tip: committer and parent %q, want GitHub's commit on %s", who, moved)
	}
	if got := r.file("main", "deploy.yaml"); !strings.Contains(got, "ghcr.io/acme/api:1.1.0 # pinned by CI") || !strings.Contains(r.file("main", "other.yaml"), "other") {
		t.Errorf("main after the signed commit:\ndeploy.yaml:\n%s", got)
	}
	if msg := gitCmd(t, r.home, r.bare, "log", "-1", "--format=%s", "main"); msg != "Bump ghcr.io/acme/api to 1.1.0" {
		t.Errorf("headline %q", msg)
	}
	if n := api.Hits("GET", "/repos/acme/config/git/ref/heads/{branch...}"); n != 1 {
		t.Errorf("branch read %d times after the refused commit, want 1", n)
	}

	// A head that keeps moving: max-attempts tries, then exit 3.
	g.mu.Lock()
	g.commits = nil
	g.beforeCommit = func(int) {
		if err := g.otherPush("again.yaml"); err != nil {
			t.Error(err)
		}
	}
	g.mu.Unlock()
	res = runAction(t, env, append(slices.Clone(args[:len(args)-3]), "--tag", "1.2.0", "--sign-commits", "--max-attempts", "2")...)
	if n := len(g.expected()); res.code != 3 || n != 2 || !strings.Contains(res.stderr, "after 2 attempts") {
		t.Errorf("moving head: exit %d after %d commits, want 3 after 2\n%s", res.code, n, res.stderr)
	}

	// A refusal that is not a moved head is not retried.
	g.mu.Lock()
	g.commits, g.beforeCommit, g.refuse = nil, nil, "Resource not accessible by integration"
	g.mu.Unlock()
	res = runAction(t, env, append(slices.Clone(args[:len(args)-3]), "--tag", "1.3.0", "--sign-commits")...)
	if n := len(g.expected()); res.code != 3 || n != 1 || !strings.Contains(res.stderr, "Resource not accessible by integration") {
		t.Errorf("refused: exit %d after %d commits, want 3 after 1 with GitHub's reason\n%s", res.code, n, res.stderr)
	}
}

func TestSignCommitsPullRequest(t *testing.T) {
	r := newRemote(t, map[string]string{"deploy.yaml": deployment})
	api := testenv.StartGitHubAPI(t)
	api.RequireToken(secretToken)
	g := newGitHubGit(t, r, api)
	pr := map[string]any{"number": 7, "node_id": "PR_7", "html_url": "https://github.com/acme/config/pull/7"}
	var opened bool
	var mu sync.Mutex
	api.Handle("GET", routePulls, func(*testenv.Request) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		if opened {
			return 0, []any{pr}
		}
		return 0, []any{}
	})
	api.Handle("POST", routePulls, func(*testenv.Request) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		opened = true
		return http.StatusCreated, pr
	})
	api.Handle("PATCH", routePull, func(*testenv.Request) (int, any) { return 0, pr })
	const branch = "bump/ghcr.io-acme-api"
	env := map[string]string{"GITHUB_SERVER_URL": r.server.URL}
	args := func(tag string) []string {
		return []string{"--repository", "acme/config", "--mode", "pull-request", "--github-api-url", api.URL, "--token", secretToken,
			"--image", "ghcr.io/acme/api", "--tag", tag, "--sign-commits"}
	}
	requests := func(from int) []string {
		var out []string
		for _, req := range api.Requests()[from:] {
			out = append(out, req.String())
		}
		return out
	}
	main := g.tip("main")
	list := "GET " + routePulls + "?base=main&head=acme%3Abump%2Fghcr.io-acme-api&state=open"

	res := runAction(t, env, args("1.1.0")...)
	if res.code != 0 || res.outputs["pull-request-operation"] != "created" {
		t.Fatalf("first run: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	want := []string{"POST /repos/acme/config/git/refs", "POST /graphql createCommitOnBranch", list, "POST " + routePulls}
	if got := requests(0); !slices.Equal(got, want) {
		t.Errorf("first run requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tip := g.tip(branch)
	if res.outputs["pull-request-head-sha"] != tip || res.outputs["commit-sha"] != tip {
		t.Errorf("outputs %v, branch at %s", res.outputs, tip)
	}
	if got := gitCmd(t, r.home, r.bare, "log", "-1", "--format=%cn %P%n%B", branch); !strings.HasPrefix(got, "GitHub "+main+"\nBump ghcr.io/acme/api to 1.1.0") ||
		!strings.HasSuffix(got, "Gitops-Actions-Branch: "+branch) {
		t.Errorf("PR branch tip: want GitHub's commit on main carrying the branch trailer:\n%s", got)
	}

	// The update: the branch is this action's (its tip carries the
	// trailer), so a signed commit on main replaces it without the branch
	// ever pointing at main.
	before := len(api.Requests())
	res = runAction(t, env, args("1.2.0")...)
	if res.code != 0 || res.outputs["pull-request-operation"] != "updated" {
		t.Fatalf("second run: exit %d outputs %v\n%s", res.code, res.outputs, res.stderr)
	}
	scratch := "/repos/acme/config/git/refs/heads/" + branch + "-gitops-actions-signing"
	want = []string{"POST /repos/acme/config/git/refs", "POST /graphql createCommitOnBranch", "GET /repos/acme/config/git/ref/heads/" + branch,
		"PATCH /repos/acme/config/git/refs/heads/" + branch, "DELETE " + scratch, list, "PATCH " + routePull}
	if got := requests(before); !slices.Equal(got, want) {
		t.Errorf("update requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := g.expected(); len(got) != 2 || got[1] != main {
		t.Errorf("update expected %q, want main %s", got, main)
	}
	tip = g.tip(branch)
	if res.outputs["pull-request-head-sha"] != tip || r.commits(branch) != 2 || g.tip(branch+"-gitops-actions-signing") != "" ||
		!strings.Contains(r.file(branch, "deploy.yaml"), "ghcr.io/acme/api:1.2.0 # pinned by CI") {
		t.Errorf("after update: outputs %v, branch at %s with %d commits, deploy.yaml:\n%s", res.outputs, tip, r.commits(branch), r.file(branch, "deploy.yaml"))
	}
	// Same change again: the branch already holds it, nothing is made.
	before = len(api.Requests())
	if res = runAction(t, env, args("1.2.0")...); res.code != 0 || res.outputs["pull-request-head-sha"] != tip {
		t.Fatalf("third run: exit %d\n%s", res.code, res.stderr)
	}
	for _, req := range requests(before) {
		if strings.Contains(req, "/git/") || strings.Contains(req, "graphql") {
			t.Errorf("a re-run wrote %s", req)
		}
	}

	// A scratch branch a stopped run left behind is reset, not a failure.
	gitCmd(t, r.home, r.bare, "update-ref", "refs/heads/"+branch+"-gitops-actions-signing", tip)
	before = len(api.Requests())
	res = runAction(t, env, args("1.3.0")...)
	if res.code != 0 || !strings.Contains(r.file(branch, "deploy.yaml"), "ghcr.io/acme/api:1.3.0 # pinned by CI") || g.tip(branch+"-gitops-actions-signing") != "" {
		t.Fatalf("stale scratch branch: exit %d\n%s", res.code, res.stderr)
	}
	want = []string{"POST /repos/acme/config/git/refs", "PATCH " + scratch, "POST /graphql createCommitOnBranch", "GET /repos/acme/config/git/ref/heads/" + branch,
		"PATCH /repos/acme/config/git/refs/heads/" + branch, "DELETE " + scratch, list, "PATCH " + routePull}
	if got := requests(before); !slices.Equal(got, want) {
		t.Errorf("stale scratch requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if parent := gitCmd(t, r.home, r.bare, "log", "-1", "--format=%P", branch); parent != main {
		t.Errorf("PR branch tip's parent %s, want main %s", parent, main)
	}
}

func TestSignCommitsBadInputs(t *testing.T) {
	api := testenv.StartGitHubAPI(t)
	for _, tc := range []struct {
		input, reason string
		args          []string
	}{
		{"sign-commits", `the repository is on "git.example.com"`, []string{"--repository", "https://git.example.com/acme/config.git", "--token", secretToken}},
		{"sign-commits", "needs a repository on GitHub", []string{"--repository", "file:///srv/git/acme/config.git", "--token", secretToken}},
		{"token", "is required with sign-commits", []string{"--repository", "acme/config"}},
	} {
		res := runAction(t, nil, slices.Concat(tc.args, []string{"--github-api-url", api.URL, "--image", "ghcr.io/acme/api", "--tag", "1.1.0", "--sign-commits"})...)
		if res.code != 2 || !strings.Contains(res.stderr, `input "`+tc.input+`"`) || !strings.Contains(res.stderr, tc.reason) || strings.Contains(res.stderr, "cloning") {
			t.Errorf("%q: exit %d, want 2 naming %s (%s) before cloning\n%s", tc.args, res.code, tc.input, tc.reason, res.stderr)
		}
	}
	if n := len(api.Requests()); n != 0 {
		t.Errorf("bad inputs reached the API %d times", n)
	}
}

// jsonRoundTrip decodes v, a decoded JSON value, into out.
func jsonRoundTrip(v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
