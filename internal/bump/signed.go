package bump

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	gogithub "github.com/google/go-github/v60/github"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/gitrepo"
)

// errHeadMoved is a branch that moved since it was read: GitHub refused
// the commit on expectedHeadOid. The push loop treats it like a rejected
// push and applies the edit again on the new tip.
var errHeadMoved = errors.New("the branch moved since it was read")

// checkSignRepository refuses sign-commits for a repository that is not on
// GitHub: only GitHub's API can make the commit it signs.
func checkSignRepository(repository, serverURL string) error {
	if !strings.Contains(repository, "://") {
		return nil // owner/name, on GITHUB_SERVER_URL
	}
	host := func(u string) string {
		_, rest, _ := strings.Cut(u, "://")
		h, _, _ := strings.Cut(rest, "/")
		if i := strings.LastIndexByte(h, '@'); i >= 0 {
			h = h[i+1:]
		}
		return strings.ToLower(h)
	}
	server := cmpOr(serverURL, "https://github.com")
	if !strings.HasPrefix(repository, "https://") && !strings.HasPrefix(repository, "http://") || host(repository) != host(server) {
		return action.Usage("sign-commits", "needs a repository on GitHub (owner/name, or an https URL on %s); the repository is on %q, where GitHub cannot make or sign the commit", host(server), host(repository))
	}
	return nil
}

const createCommitMutation = `mutation CreateCommit($input: CreateCommitOnBranchInput!) {
  createCommitOnBranch(input: $input) { commit { oid } }
}`

// signedCommit makes the local HEAD commit again on branch through GraphQL
// createCommitOnBranch, so that GitHub signs it: the same message and the
// same contents of files, on HEAD's parent, which branch must still point
// at. It returns GitHub's commit.
func signedCommit(ctx context.Context, gh *github, repo *gitrepo.Repo, branch string, files []string) (string, error) {
	parent, err := repo.Git(ctx, "rev-parse", "--verify", "HEAD^{commit}^")
	if err != nil {
		return "", action.External(fmt.Errorf("read the commit's parent: %w", err))
	}
	text, err := repo.Git(ctx, "log", "-1", "--format=%B", "HEAD")
	if err != nil {
		return "", action.External(fmt.Errorf("read the commit message: %w", err))
	}
	headline, body, _ := strings.Cut(text, "\n")
	tree, err := repo.Files(ctx)
	if err != nil {
		return "", action.External(fmt.Errorf("list files: %w", err))
	}
	var changed []gitrepo.File
	for _, f := range tree {
		if slices.Contains(files, f.Path) {
			changed = append(changed, f)
		}
	}
	if len(changed) != len(files) {
		return "", action.External(fmt.Errorf("the commit lacks some of the files %q it changed", files))
	}
	contents, err := repo.Read(ctx, changed)
	if err != nil {
		return "", action.External(fmt.Errorf("read files: %w", err))
	}
	additions := make([]map[string]string, len(changed))
	for i, f := range changed {
		additions[i] = map[string]string{"path": f.Path, "contents": base64.StdEncoding.EncodeToString(contents[i])}
	}
	input := map[string]any{
		"branch":          map[string]string{"repositoryNameWithOwner": gh.owner + "/" + gh.name, "branchName": branch},
		"expectedHeadOid": parent,
		"message":         map[string]string{"headline": headline, "body": strings.TrimLeft(body, "\n")},
		"fileChanges":     map[string]any{"additions": additions},
	}
	var data struct {
		CreateCommitOnBranch struct {
			Commit struct {
				OID string `json:"oid"`
			} `json:"commit"`
		} `json:"createCommitOnBranch"`
	}
	err = gh.graphQL(ctx, "createCommitOnBranch", createCommitMutation, map[string]any{"input": input}, &data)
	if err != nil {
		// Which error GitHub gives a stale expectedHeadOid is not a
		// contract: read the branch to tell a moved head from a failure.
		var gerr *graphQLError
		if errors.As(err, &gerr) {
			tip, terr := branchTip(ctx, gh, branch)
			if terr == nil && tip != parent {
				return "", fmt.Errorf("%w (now at %.12s; GitHub said: %v)", errHeadMoved, tip, err)
			}
		}
		return "", action.External(fmt.Errorf("sign-commits: commit to %q: %w", branch, err))
	}
	oid := data.CreateCommitOnBranch.Commit.OID
	if len(oid) != 40 {
		return "", action.External(fmt.Errorf("sign-commits: commit to %q: GitHub answered no commit (oid %q)", branch, oid))
	}
	return oid, nil
}

// branchTip returns the commit branch points at through the API, "" when
// it does not exist.
func branchTip(ctx context.Context, gh *github, branch string) (string, error) {
	ref, resp, err := gh.client.Git.GetRef(ctx, gh.owner, gh.name, "refs/heads/"+branch)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read branch %q: %w", branch, err)
	}
	return ref.GetObject().GetSHA(), nil
}

// pushCommit publishes the local HEAD commit (sha) on the base branch: a
// git push, or with sign-commits the same commit made by GitHub. It
// returns the commit pushed; a moved branch is an error the push loop
// retries on, any other is an *action.ExitError.
func pushCommit(ctx context.Context, cfg Config, gh *github, repo *gitrepo.Repo, sha string, files []string) (string, error) {
	if !cfg.SignCommits {
		return sha, repo.Push(ctx, repo.Branch)
	}
	return signedCommit(ctx, gh, repo, repo.Branch, files)
}

// signedPRBranch points the pull request branch (at rsha, "" when absent)
// at a signed copy of the local HEAD commit, based on HEAD's parent. A
// new branch is created at the parent and committed to. An existing one
// is never reset to the base, which would close its pull request: the
// commit is made on a scratch branch, the pull request branch is moved to
// it if it is still at rsha, and the scratch branch is deleted.
func signedPRBranch(ctx context.Context, c *action.Context, gh *github, repo *gitrepo.Repo, branch, rsha, parent string, files []string) (string, error) {
	target := branch
	if rsha != "" {
		target = branch + "-gitops-actions-signing"
	}
	ref := &gogithub.Reference{Ref: gogithub.String("refs/heads/" + target), Object: &gogithub.GitObject{SHA: gogithub.String(parent)}}
	if _, resp, err := gh.client.Git.CreateRef(ctx, gh.owner, gh.name, ref); err != nil {
		// A scratch branch left by a run that was stopped is this
		// action's own: point it at the parent rather than fail forever.
		stale := rsha != "" && resp != nil && resp.StatusCode == http.StatusUnprocessableEntity
		if !stale {
			return "", action.External(fmt.Errorf("sign-commits: create branch %q at %.12s: %w", target, parent, err))
		}
		if _, _, err := gh.client.Git.UpdateRef(ctx, gh.owner, gh.name, ref, true); err != nil {
			return "", action.External(fmt.Errorf("sign-commits: reset the scratch branch %q to %.12s: %w", target, parent, err))
		}
		c.Logf("reset the scratch branch %s a stopped run left", target)
	}
	sha, err := signedCommit(ctx, gh, repo, target, files)
	if rsha == "" {
		if errors.Is(err, errHeadMoved) {
			return "", action.External(fmt.Errorf("push branch %q: %w", branch, err))
		}
		return sha, err
	}
	defer func() {
		if _, derr := gh.client.Git.DeleteRef(ctx, gh.owner, gh.name, "refs/heads/"+target); derr != nil {
			c.Warnf("sign-commits: could not delete the scratch branch %q: %v", target, derr)
		}
	}()
	if err != nil {
		if errors.Is(err, errHeadMoved) {
			err = action.External(fmt.Errorf("push branch %q: %w", branch, err))
		}
		return "", err
	}
	// No compare-and-swap in the REST API: read the tip just before the
	// forced update, so that a commit pushed since the check is not lost.
	tip, err := branchTip(ctx, gh, branch)
	if err != nil {
		return "", action.External(err)
	}
	if tip != rsha {
		return "", action.External(fmt.Errorf("push branch %q: %w (now at %.12s, checked at %.12s): nothing was replaced", branch, errHeadMoved, tip, rsha))
	}
	ref = &gogithub.Reference{Ref: gogithub.String("refs/heads/" + branch), Object: &gogithub.GitObject{SHA: gogithub.String(sha)}}
	if _, _, err := gh.client.Git.UpdateRef(ctx, gh.owner, gh.name, ref, true); err != nil {
		return "", action.External(fmt.Errorf("sign-commits: move branch %q to %.12s: %w", branch, sha, err))
	}
	return sha, nil
}
