package bump

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	gogithub "github.com/google/go-github/v60/github"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/gitrepo"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// apiAttempts bounds tries of one GitHub API call answering 5xx.
const apiAttempts = transport.DefaultAttempts

// github is the API client for one repository.
type github struct {
	client      *gogithub.Client
	graphqlURL  string
	owner, name string
}

func newGitHub(ctx context.Context, cfg Config, c *action.Context) (*github, error) {
	owner, name, err := gitrepo.OwnerName(cfg.Repository)
	if err != nil {
		return nil, action.UsageErr("repository", fmt.Errorf("pull-request mode needs a GitHub repository: %w", err))
	}
	if cfg.Token == "" {
		return nil, action.Usage("token", "is required in pull-request mode")
	}
	base, err := url.Parse(strings.TrimRight(cfg.GitHubAPIURL, "/") + "/")
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, action.Usage("github-api-url", "%q is not an http(s) URL", cfg.GitHubAPIURL)
	}
	client := gogithub.NewClient(transport.For(ctx).WithLogf(c.Logf).Client()).WithAuthToken(cfg.Token)
	client.BaseURL = base
	return &github{client: client, graphqlURL: graphQLURL(base), owner: owner, name: name}, nil
}

// Slashes go too: bump/a/b and bump/a/b/c cannot both be branches.
var branchUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// prBranch is the pull request branch: given, or derived from the image
// (or images) and the paths so two bumps of one image in different places do not
// share a branch.
func prBranch(cfg Config) string {
	if cfg.PRBranch != "" {
		return cfg.PRBranch
	}
	name := cfg.Image
	switch {
	case len(cfg.Images) == 1:
		name = cfg.Images[0].Image
	case len(cfg.Images) > 1:
		// Several images: the set names the branch, in any order given.
		names := strings.Split(imageNames(cfg), ", ")
		slices.Sort(names)
		sum := sha256.Sum256([]byte(strings.Join(names, "\n")))
		name = "images-" + hex.EncodeToString(sum[:4])
	}
	b := "bump/" + strings.Trim(branchUnsafe.ReplaceAllString(name, "-"), "-./")
	if len(cfg.Paths) != 1 || cfg.Paths[0] != "." {
		sum := sha256.Sum256([]byte(strings.Join(cfg.Paths, "\n")))
		b += "-" + hex.EncodeToString(sum[:4])
	}
	return strings.ReplaceAll(b, "..", ".")
}

// branchTrailer marks the commits this action makes on a pull request
// branch, with the branch's name as value: a branch whose own commits all
// carry it is this action's to replace.
const branchTrailer = "Gitops-Actions-Branch"

// checkOwnBranch refuses a remote pr-branch (at sha) that holds a commit
// this action did not make for it: its tip, or any commit the base branch
// does not reach. Replacing it would lose that work.
func checkOwnBranch(ctx context.Context, repo *gitrepo.Repo, branch, sha string) error {
	refuse := func(commit string) error {
		return action.Usage("pr-branch", "branch %q exists and its commit %.12s was not made by bump-manifest for it (no %q trailer): nothing was pushed; delete the branch or choose another pr-branch",
			branch, commit, branchTrailer+": "+branch)
	}
	tip, err := repo.Commits(ctx, branchTrailer, "-1", sha)
	if err != nil {
		return action.External(fmt.Errorf("read branch %q: %w", branch, err))
	}
	if len(tip) != 1 || !slices.Contains(tip[0].Trailers, branch) {
		return refuse(sha)
	}
	own, err := repo.CommitsNotOn(ctx, branch, repo.Branch, branchTrailer)
	if err != nil {
		return action.External(fmt.Errorf("cannot tell whether branch %q holds only bump-manifest's commits: %w", branch, err))
	}
	for _, c := range own {
		if !slices.Contains(c.Trailers, branch) {
			return refuse(c.SHA)
		}
	}
	return nil
}

// openPullRequest force-pushes the commit to the PR branch (unless it
// already holds the same tree on the same base) and creates or updates the
// open pull request from it.
func openPullRequest(ctx context.Context, c *action.Context, cfg Config, gh *github, repo *gitrepo.Repo, msg message, sha string) error {
	branch := prBranch(cfg)
	title, err := render(cfg.titleTmpl, msg)
	if err != nil {
		return action.UsageErr("pr-title", err)
	}
	body, err := render(cfg.bodyTmpl, msg)
	if err != nil {
		return action.UsageErr("pr-body", err)
	}
	tree, parent, err := repo.CommitInfo(ctx, "HEAD")
	if err != nil {
		return action.External(err)
	}
	rsha, rtree, rparent, err := repo.RemoteCommit(ctx, branch)
	if err != nil {
		return action.External(fmt.Errorf("look up branch %q: %w", branch, err))
	}
	if rsha != "" {
		if err := checkOwnBranch(ctx, repo, branch, rsha); err != nil {
			return err
		}
	}
	if rsha != "" && rtree == tree && rparent == parent {
		c.Logf("branch %s already holds this change", branch)
		sha = rsha
	} else if cfg.SignCommits {
		if sha, err = signedPRBranch(ctx, c, gh, repo, branch, rsha, parent, msg.Files); err != nil {
			return err
		}
	} else if err := repo.Replace(ctx, branch, rsha); err != nil {
		return action.External(fmt.Errorf("push branch %q: %w", branch, err))
	}
	c.SetOutput("commit-sha", sha)

	prs, _, err := gh.client.PullRequests.List(ctx, gh.owner, gh.name, &gogithub.PullRequestListOptions{
		State: "open", Head: gh.owner + ":" + branch, Base: repo.Branch})
	if err != nil {
		return action.External(fmt.Errorf("list pull requests from %q: %w", branch, err))
	}
	var pr *gogithub.PullRequest
	op := "created"
	if len(prs) > 0 {
		op = "updated"
		pr, _, err = gh.client.PullRequests.Edit(ctx, gh.owner, gh.name, prs[0].GetNumber(), &gogithub.PullRequest{Title: &title, Body: &body})
		if err != nil {
			return action.External(fmt.Errorf("update pull request #%d: %w", prs[0].GetNumber(), err))
		}
	} else {
		np := &gogithub.NewPullRequest{Title: &title, Head: &branch, Base: &repo.Branch, Body: &body}
		if cfg.PRDraft {
			np.Draft = &cfg.PRDraft
		}
		pr, _, err = gh.client.PullRequests.Create(ctx, gh.owner, gh.name, np)
		if err != nil {
			return action.External(fmt.Errorf("create pull request from %q: %w", branch, err))
		}
	}
	if len(cfg.PRLabels) > 0 {
		if _, _, err := gh.client.Issues.AddLabelsToIssue(ctx, gh.owner, gh.name, pr.GetNumber(), cfg.PRLabels); err != nil {
			return action.External(fmt.Errorf("label pull request #%d: %w", pr.GetNumber(), err))
		}
	}
	if err := requestPeople(ctx, c, cfg, gh, pr); err != nil {
		return err
	}
	c.SetOutput("pull-request-number", fmt.Sprint(pr.GetNumber()))
	c.SetOutput("pull-request-url", pr.GetHTMLURL())
	c.SetOutput("pull-request-operation", op)
	c.SetOutput("pull-request-head-sha", sha)
	c.Logf("pull request #%d %s: %s", pr.GetNumber(), op, pr.GetHTMLURL())
	if cfg.PRAutoMerge != "" {
		return enableAutoMerge(ctx, c, gh, pr, cfg.PRAutoMerge)
	}
	return nil
}

// A GitHub login: letters, digits and inner hyphens, at most 39 characters.
var login = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$`)

// A team slug, as GitHub derives it from the team's name.
var teamSlug = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// checkPRInputs checks the pull request people and auto-merge inputs and
// strips the org/ prefix create-pull-request users give team slugs.
func checkPRInputs(in *action.Inputs, c *Config) {
	for _, l := range []struct {
		name   string
		logins []string
	}{{"pr-reviewers", c.PRReviewers}, {"pr-assignees", c.PRAssignees}} {
		for _, v := range l.logins {
			if !login.MatchString(v) {
				in.Fail(l.name, "%q is not a GitHub login (letters, digits and inner hyphens, at most 39)", v)
			}
		}
	}
	owner, _, ownerErr := gitrepo.OwnerName(c.Repository)
	for i, v := range c.PRTeams {
		org, slug, prefixed := strings.Cut(v, "/")
		if !prefixed {
			org, slug = "", v
		}
		switch {
		case !teamSlug.MatchString(slug) || (prefixed && !login.MatchString(org)):
			in.Fail("pr-team-reviewers", "%q is not a team slug (team or org/team)", v)
		case prefixed && ownerErr == nil && !strings.EqualFold(org, owner):
			in.Fail("pr-team-reviewers", "%q is a team of %q, not of the repository's owner %q: only its teams can review", v, org, owner)
		default:
			c.PRTeams[i] = slug
		}
	}
	switch c.PRAutoMerge {
	case "", "merge", "squash", "rebase":
	default:
		in.Fail("pr-auto-merge", "%q is not merge, squash or rebase (empty leaves auto-merge off)", c.PRAutoMerge)
	}
	if c.Mode != "pull-request" {
		for _, set := range []struct {
			name string
			on   bool
		}{{"pr-reviewers", len(c.PRReviewers) > 0}, {"pr-team-reviewers", len(c.PRTeams) > 0}, {"pr-assignees", len(c.PRAssignees) > 0},
			{"pr-draft", c.PRDraft}, {"pr-auto-merge", c.PRAutoMerge != ""}} {
			if set.on {
				in.Fail(set.name, "is set but mode is %q: it only applies to mode pull-request", c.Mode)
			}
		}
	}
	if c.SignCommits && c.Token == "" {
		in.Fail("token", "is required with sign-commits: the commit is made through the GitHub API")
	}
}

// notIn returns the names of want that have does not hold, ignoring case
// as GitHub does for logins and slugs.
func notIn(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			out = append(out, w)
		}
	}
	return out
}

// requestPeople asks the reviewers and teams not yet asked, and adds the
// assignees not yet assigned, so that updating a pull request sends no
// request for what it already has.
func requestPeople(ctx context.Context, c *action.Context, cfg Config, gh *github, pr *gogithub.PullRequest) error {
	var users, teams, assigned []string
	for _, u := range pr.RequestedReviewers {
		users = append(users, u.GetLogin())
	}
	for _, t := range pr.RequestedTeams {
		teams = append(teams, t.GetSlug())
	}
	for _, u := range pr.Assignees {
		assigned = append(assigned, u.GetLogin())
	}
	req := gogithub.ReviewersRequest{Reviewers: notIn(cfg.PRReviewers, users), TeamReviewers: notIn(cfg.PRTeams, teams)}
	if len(req.Reviewers)+len(req.TeamReviewers) > 0 {
		if _, _, err := gh.client.PullRequests.RequestReviewers(ctx, gh.owner, gh.name, pr.GetNumber(), req); err != nil {
			return action.External(fmt.Errorf("request reviewers %q and teams %q on pull request #%d: %w", req.Reviewers, req.TeamReviewers, pr.GetNumber(), err))
		}
		c.Logf("asked %s for review", strings.Join(append(req.Reviewers, req.TeamReviewers...), ", "))
	}
	if add := notIn(cfg.PRAssignees, assigned); len(add) > 0 {
		if _, _, err := gh.client.Issues.AddAssignees(ctx, gh.owner, gh.name, pr.GetNumber(), add); err != nil {
			return action.External(fmt.Errorf("assign %q to pull request #%d: %w", add, pr.GetNumber(), err))
		}
		c.Logf("assigned %s", strings.Join(add, ", "))
	}
	return nil
}

const enableAutoMergeMutation = `mutation EnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod}) {
    pullRequest { autoMergeRequest { mergeMethod } }
  }
}`

// enableAutoMerge turns on auto-merge with method unless it is already on
// with that method. GitHub refusing it (auto-merge not allowed on the
// repository, the pull request already mergeable) is exit 3: the user asked
// for a pull request that merges itself, and one that waits for a person
// must not look like a success.
func enableAutoMerge(ctx context.Context, c *action.Context, gh *github, pr *gogithub.PullRequest, method string) error {
	if am := pr.GetAutoMerge(); am != nil && strings.EqualFold(am.GetMergeMethod(), method) {
		return nil
	}
	vars := map[string]any{"pullRequestId": pr.GetNodeID(), "mergeMethod": strings.ToUpper(method)}
	if err := gh.graphQL(ctx, "enablePullRequestAutoMerge", enableAutoMergeMutation, vars, nil); err != nil {
		return action.External(fmt.Errorf("pr-auto-merge: pull request #%d is open but auto-merge (%s) was not enabled: %w", pr.GetNumber(), method, err))
	}
	c.Logf("auto-merge (%s) enabled on pull request #%d", method, pr.GetNumber())
	return nil
}
