package gitrepo

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
)

// ErrRejected is a push the remote refused because the branch moved (or
// its ref was locked by a concurrent push): fetch, redo, push again.
var ErrRejected = errors.New("push rejected: the remote branch moved")

// ErrAuth is a remote that refused the credentials.
var ErrAuth = errors.New("the remote refused the credentials")

var ownerName = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// ResolveURL turns owner/name into the GitHub clone URL on serverURL
// (https://github.com when empty) and leaves any other URL as given.
func ResolveURL(repository, serverURL string) (string, error) {
	switch {
	case ownerName.MatchString(repository):
		if serverURL == "" {
			serverURL = "https://github.com"
		}
		return strings.TrimRight(serverURL, "/") + "/" + strings.TrimSuffix(repository, ".git") + ".git", nil
	case strings.Contains(repository, "://"):
		u, err := url.Parse(repository)
		if err != nil {
			return "", fmt.Errorf("repository %q: %w", repository, err)
		}
		switch u.Scheme {
		case "https", "http", "file", "ssh", "git":
			return repository, nil
		}
		return "", fmt.Errorf("repository %q: scheme %q is not https, http, file, ssh or git", repository, u.Scheme)
	}
	return "", fmt.Errorf("repository %q is neither owner/name nor a URL", repository)
}

// OwnerName returns the owner and name a GitHub repository URL or
// owner/name points at.
func OwnerName(repository string) (owner, name string, err error) {
	p := repository
	if strings.Contains(repository, "://") {
		u, err := url.Parse(repository)
		if err != nil {
			return "", "", fmt.Errorf("repository %q: %w", repository, err)
		}
		p = strings.Trim(u.Path, "/")
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			if j := strings.LastIndexByte(p[:i], '/'); j >= 0 {
				p = p[j+1:]
			}
		}
	}
	p = strings.TrimSuffix(p, ".git")
	if !ownerName.MatchString(p) {
		return "", "", fmt.Errorf("repository %q does not name a GitHub owner/name", repository)
	}
	owner, name, _ = strings.Cut(p, "/")
	return owner, name, nil
}

// Repo is a local clone.
type Repo struct {
	Dir    string
	URL    string
	Branch string // the branch cloned
	env    []string
}

// Options of Clone.
type Options struct {
	Token  string // sent as HTTP Basic x-access-token:<token>, as GitHub takes it
	Branch string // empty: the remote's default branch
	// Getenv supplies what git needs from the caller's environment (PATH,
	// HOME, proxies, TLS roots, ssh agent); nothing else reaches git.
	Getenv func(string) string
}

// passEnv is the caller's environment git may see.
var passEnv = []string{
	"PATH", "HOME", "TMPDIR", "XDG_CONFIG_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "GIT_EXEC_PATH",
}

// Clone makes a shallow single-branch clone of url into dir.
func Clone(ctx context.Context, url, dir string, o Options) (*Repo, error) {
	r := &Repo{Dir: dir, URL: url, Branch: o.Branch}
	if o.Getenv != nil {
		for _, k := range passEnv {
			if v := o.Getenv(k); v != "" {
				r.env = append(r.env, k+"="+v)
			}
		}
	}
	r.env = append(r.env, "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_CONFIG_NOSYSTEM=1")
	if o.Token != "" {
		auth := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + o.Token))
		r.env = append(r.env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader",
			"GIT_CONFIG_VALUE_0=Authorization: Basic "+auth)
	}
	args := []string{"clone", "--quiet", "--depth", "1", "--no-tags"}
	if o.Branch != "" {
		args = append(args, "--branch", o.Branch)
	}
	args = append(args, "--", url, dir)
	if _, err := r.run(ctx, "", nil, args...); err != nil {
		return nil, err
	}
	if r.Branch == "" {
		b, err := r.Git(ctx, "symbolic-ref", "--short", "HEAD")
		if err != nil {
			return nil, err
		}
		r.Branch = b
	}
	return r, nil
}

// Git runs git in the clone and returns its trimmed stdout.
func (r *Repo) Git(ctx context.Context, args ...string) (string, error) {
	out, err := r.run(ctx, r.Dir, nil, args...)
	return strings.TrimSpace(out), err
}

func (r *Repo) run(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String() + "\n" + stdout.String())
		err = fmt.Errorf("git %s: %w: %s", args[0], err, msg)
		if strings.Contains(msg, "Authentication failed") || strings.Contains(msg, "could not read Username") ||
			strings.Contains(msg, "returned error: 401") || strings.Contains(msg, "returned error: 403") {
			err = fmt.Errorf("%w (%w)", ErrAuth, err)
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// Commit stages files and commits them with the message and author.
func (r *Repo) Commit(ctx context.Context, files []string, message, name, email string) (string, error) {
	if _, err := r.Git(ctx, append([]string{"add", "--"}, files...)...); err != nil {
		return "", err
	}
	id := []string{"GIT_AUTHOR_NAME=" + name, "GIT_AUTHOR_EMAIL=" + email, "GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + email}
	saved := r.env
	r.env = append(append([]string(nil), r.env...), id...)
	_, err := r.run(ctx, r.Dir, []byte(message), "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-F", "-")
	r.env = saved
	if err != nil {
		return "", err
	}
	return r.Git(ctx, "rev-parse", "HEAD")
}

// Push pushes HEAD to branch. A refusal because the branch moved is
// ErrRejected.
func (r *Repo) Push(ctx context.Context, branch string, force bool) error {
	args := []string{"push", "--porcelain", "--no-verify", "origin", "HEAD:refs/heads/" + branch}
	if force {
		args = append(args, "--force")
	}
	_, err := r.run(ctx, r.Dir, nil, args...)
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range []string{"[rejected]", "[remote rejected]", "non-fast-forward", "fetch first", "cannot lock ref", "failed to update ref"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}
	}
	return err
}

// Reset fetches branch's tip and moves the clone to it, dropping local commits.
func (r *Repo) Reset(ctx context.Context, branch string) error {
	ref := "refs/remotes/origin/" + branch
	if _, err := r.Git(ctx, "fetch", "--quiet", "--depth", "1", "--no-tags", "origin", "+refs/heads/"+branch+":"+ref); err != nil {
		return err
	}
	_, err := r.Git(ctx, "reset", "--quiet", "--hard", ref)
	return err
}

// RemoteCommit fetches branch and returns its commit's tree and first
// parent, or ok=false when the branch does not exist.
func (r *Repo) RemoteCommit(ctx context.Context, branch string) (tree, parent string, ok bool, err error) {
	out, err := r.Git(ctx, "ls-remote", "origin", "refs/heads/"+branch)
	if err != nil || out == "" {
		return "", "", false, err
	}
	ref := "refs/remotes/origin/" + branch
	if _, err := r.Git(ctx, "fetch", "--quiet", "--depth", "1", "--no-tags", "origin", "+refs/heads/"+branch+":"+ref); err != nil {
		return "", "", false, err
	}
	tree, parent, err = r.CommitInfo(ctx, ref)
	return tree, parent, err == nil, err
}

// CommitInfo returns a commit's tree and first parent from the commit
// object itself, which a shallow clone has even where the parent is cut off.
func (r *Repo) CommitInfo(ctx context.Context, rev string) (tree, parent string, err error) {
	obj, err := r.Git(ctx, "cat-file", "commit", rev)
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(obj, "\n") {
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, " ")
		switch {
		case k == "tree":
			tree = v
		case k == "parent" && parent == "":
			parent = v
		}
	}
	return tree, parent, nil
}
