package gitrepo

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// ErrRejected is a push the remote refused because the branch moved (or
// its ref was locked by a concurrent push): fetch, redo, push again.
var ErrRejected = errors.New("push rejected: the remote branch moved")

// ErrRefused is a push the remote declined for a reason of its own, a
// protected branch or a pre-receive hook: trying again will not help.
var ErrRefused = errors.New("the remote refused the push")

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
		case "https", "http", "ssh", "git":
			if u.Hostname() == "" {
				return "", fmt.Errorf("repository %q has no host", repository)
			}
			return repository, nil
		case "file":
			if strings.Trim(u.Path, "/") == "" {
				return "", fmt.Errorf("repository %q has no path", repository)
			}
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
	Dir      string
	URL      string
	Branch   string // the branch cloned
	env      []string
	timeout  time.Duration
	attempts int
	have     map[string]bool // blobs fetched or written since the clone
}

// Options of Clone.
type Options struct {
	Token  string // sent as HTTP Basic x-access-token:<token>, as GitHub takes it
	Branch string // empty: the remote's default branch
	// Getenv supplies what git needs from the caller's environment (PATH,
	// HOME, proxies, TLS roots, ssh agent); nothing else reaches git.
	Getenv func(string) string
	// Timeout is how long a network operation may transfer nothing before
	// it is stopped (DefaultTimeout when 0); Attempts bounds its tries that
	// time out (DefaultAttempts when 0), QuickAttempts those failing fast.
	Timeout  time.Duration
	Attempts int
}

// Defaults of Options.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultAttempts = 3
)

// passEnv is the caller's environment git may see.
var passEnv = []string{
	"PATH", "HOME", "TMPDIR", "XDG_CONFIG_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "GIT_EXEC_PATH",
}

// Clone makes a shallow single-branch clone of url into dir.
func Clone(ctx context.Context, url, dir string, o Options) (*Repo, error) {
	r := &Repo{Dir: dir, URL: url, Branch: o.Branch, timeout: cmp.Or(o.Timeout, DefaultTimeout), attempts: cmp.Or(o.Attempts, DefaultAttempts), have: map[string]bool{}}
	if o.Getenv != nil {
		for _, k := range passEnv {
			if v := o.Getenv(k); v != "" {
				r.env = append(r.env, k+"="+v)
			}
		}
	}
	r.env = append(r.env, "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_CONFIG_NOSYSTEM=1",
		// curl's low-speed limit is git's only idle timeout over HTTP: a
		// server that accepts and then says nothing is dropped after it.
		"GIT_HTTP_LOW_SPEED_LIMIT=1", fmt.Sprintf("GIT_HTTP_LOW_SPEED_TIME=%d", int((r.timeout+time.Second-1)/time.Second)))
	if o.Token != "" {
		auth := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + o.Token))
		r.env = append(r.env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader",
			"GIT_CONFIG_VALUE_0=Authorization: Basic "+auth)
	}
	// No checkout: writing thousands of files costs more than the clone;
	// files are read from the object store and commits built from
	// blobs without an index (Commit). No blobs either (a partial clone):
	// Read fetches those of the files asked for, so a bump costs what its
	// paths hold, not what the repo does. A server without filters ignores
	// --filter with a warning and sends them all, which Read then has; the
	// later fetches take the filter from the clone's config.
	args := []string{"clone", "--quiet", "--depth", "1", "--no-tags", "--no-checkout", "--filter=blob:none"}
	if o.Branch != "" {
		args = append(args, "--branch", o.Branch)
	}
	args = append(args, "--", url, dir)
	// A failed attempt may leave a partial clone that the next refuses to
	// overwrite.
	if _, err := r.net(ctx, "", nil, func() { os.RemoveAll(dir) }, args...); err != nil {
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
	killGroup(cmd)
	cmd.Dir = dir
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String() + "\n" + stdout.String())
		name := args[0]
		if name == "-c" && len(args) > 2 {
			name = args[2]
		}
		err = fmt.Errorf("git %s: %w: %s", name, err, msg)
		if strings.Contains(msg, "Authentication failed") || strings.Contains(msg, "could not read Username") ||
			strings.Contains(msg, "returned error: 401") || strings.Contains(msg, "returned error: 403") {
			err = fmt.Errorf("%w (%w)", ErrAuth, err)
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// Commit makes a commit on HEAD in which each of files holds the blob of
// the same index (ids from WriteBlobs), with the message and author, and
// moves HEAD to it. One git fast-import writes the trees and the commit
// into one pack: git commit, or write-tree, wrote each of thousands of
// trees as a file of its own, which took seconds.
func (r *Repo) Commit(ctx context.Context, files []File, blobs []string, message, name, email string) (string, error) {
	if len(files) != len(blobs) {
		return "", fmt.Errorf("commit: %d files but %d blobs", len(files), len(blobs))
	}
	if len(files) == 0 {
		return "", errors.New("commit: nothing to commit")
	}
	if strings.ContainsAny(name, "<>\n") || strings.ContainsAny(email, "<>\n") {
		return "", fmt.Errorf("commit: author %q <%s> holds '<', '>' or a newline", name, email)
	}
	head, err := r.Git(ctx, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", err
	}
	msg := cleanMessage(message)
	ident := fmt.Sprintf("%s <%s> %d +0000", name, email, time.Now().Unix())
	var in bytes.Buffer
	fmt.Fprintf(&in, "commit %s\nmark :1\nauthor %s\ncommitter %s\ndata %d\n%s\nfrom %s\n", scratchRef, ident, ident, len(msg), msg, head)
	for i, f := range files {
		fmt.Fprintf(&in, "M %s %s %s\n", f.Mode, blobs[i], quotePath(f.Path))
	}
	in.WriteString("\nget-mark :1\ndone\n")
	out, err := r.run(ctx, r.Dir, in.Bytes(), "fast-import", "--quiet", "--done", "--force")
	if err != nil {
		return "", err
	}
	sha := strings.TrimSpace(out)
	if _, err := r.Git(ctx, "update-ref", "HEAD", sha, head); err != nil {
		return "", err
	}
	return sha, nil
}

// scratchRef is where fast-import leaves the commit it made; HEAD is moved
// to it with a compare-and-swap of its own.
const scratchRef = "refs/bump-manifest/commit"

// quotePath writes path for a fast-import M command: as it is unless it
// starts with a double quote or holds a newline or backslash, else as a
// C-style quoted string. A path with spaces needs no quotes there.
func quotePath(path string) string {
	if !strings.HasPrefix(path, "\"") && !strings.ContainsAny(path, "\n\\") {
		return path
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString("\\n")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cleanMessage tidies a commit message the way git commit -F does
// (--cleanup=whitespace): no trailing blanks on a line, no leading or
// trailing empty lines, no runs of empty lines, one final newline.
func cleanMessage(message string) string {
	var b strings.Builder
	blank := false
	for _, line := range strings.Split(message, "\n") {
		line = strings.TrimRight(line, " \t\r\v\f")
		if line == "" {
			blank = b.Len() > 0
			continue
		}
		if blank {
			b.WriteString("\n")
			blank = false
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// Push pushes HEAD to branch. A refusal because the branch moved is
// ErrRejected.
func (r *Repo) Push(ctx context.Context, branch string) error {
	return r.push(ctx, "push", "--porcelain", "--no-verify", "origin", "HEAD:refs/heads/"+branch)
}

// Replace pushes HEAD to branch whatever it holds, but only while the
// remote branch is at expect ("": does not exist), so a commit someone
// pushed since the caller looked is never overwritten: that is ErrRejected.
func (r *Repo) Replace(ctx context.Context, branch, expect string) error {
	return r.push(ctx, "push", "--porcelain", "--no-verify", "--force-with-lease=refs/heads/"+branch+":"+expect, "origin", "HEAD:refs/heads/"+branch)
}

// push runs git push. A retried attempt after one whose answer was lost
// but which landed finds the branch at HEAD already: git reports it up to
// date, the lease included, so retrying pushes is safe.
func (r *Repo) push(ctx context.Context, args ...string) error {
	_, err := r.net(ctx, r.Dir, nil, nil, args...)
	if err == nil {
		return nil
	}
	return classifyPush(err)
}

// Reasons git gives for a ref it did not update that mean another push got
// there first: [rejected] ones from the client, which compared with the
// advertised tip, and [remote rejected] ones from a server that lost the
// race for the ref lock. Any other refusal is the remote's policy.
var (
	movedReasons       = []string{"fetch first", "non-fast-forward", "stale info"}
	movedRemoteReasons = []string{"cannot lock ref", "failed to update ref", "failed to lock", "incorrect old value", "reference already exists"}
)

// classifyPush reads the porcelain status lines ("!\t<src>:<dst>\t[...]
// (<reason>)") of a failed push: the branch moved is ErrRejected, a
// refusal (protected branch, hook) ErrRefused with the remote's reason.
func classifyPush(err error) error {
	var status string
	var remote []string
	for _, line := range strings.Split(err.Error(), "\n") {
		switch {
		case strings.HasPrefix(line, "!\t") && status == "":
			if f := strings.SplitN(line, "\t", 3); len(f) == 3 {
				status = strings.TrimSpace(f[2])
			}
		default:
			// The first line carries the error's own prefix.
			if i := strings.Index(line, "remote:"); i == 0 || i > 0 && strings.HasSuffix(line[:i], ": ") {
				if m := strings.TrimSpace(line[i+len("remote:"):]); m != "" {
					remote = append(remote, m)
				}
			}
		}
	}
	kind, reason, _ := strings.Cut(status, "] ")
	reason = strings.Trim(reason, "()")
	switch {
	case status == "":
		return err
	case kind == "[rejected" && containsAny(reason, movedReasons):
		return fmt.Errorf("%w (%s)", ErrRejected, reason)
	case kind == "[remote rejected" && containsAny(reason, movedRemoteReasons):
		return fmt.Errorf("%w (%s)", ErrRejected, reason)
	}
	if len(remote) > 0 {
		status += "; the remote said: " + strings.Join(remote, " / ")
	}
	return fmt.Errorf("%w: %s", ErrRefused, status)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Reset fetches branch's tip and moves HEAD to it, dropping local commits.
func (r *Repo) Reset(ctx context.Context, branch string) error {
	ref := "refs/remotes/origin/" + branch
	if _, err := r.net(ctx, r.Dir, nil, nil, "fetch", "--quiet", "--depth", "1", "--no-tags", "origin", "+refs/heads/"+branch+":"+ref); err != nil {
		return err
	}
	_, err := r.Git(ctx, "update-ref", "HEAD", ref)
	return err
}

// File is a regular file or a symbolic link of the tree at HEAD.
type File struct {
	Path string // slash-separated
	Mode string // 100644 or 100755, 120000 for a link
	blob string
}

// Blob is the id of f's content: two files with the same Blob hold the
// same bytes.
func (f File) Blob() string { return f.blob }

// IsLink reports whether f is a symbolic link; its content is the target.
func (f File) IsLink() bool { return f.Mode == "120000" }

// Files lists the regular files and symbolic links of HEAD (no submodules).
func (r *Repo) Files(ctx context.Context) ([]File, error) {
	out, err := r.run(ctx, r.Dir, nil, "ls-tree", "-r", "-z", "--full-tree", "HEAD")
	if err != nil {
		return nil, err
	}
	var files []File
	for _, ent := range strings.Split(out, "\x00") {
		meta, path, ok := strings.Cut(ent, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[1] != "blob" || (f[0] != "100644" && f[0] != "100755" && f[0] != "120000") {
			continue
		}
		files = append(files, File{Path: path, Mode: f[0], blob: f[2]})
	}
	return files, nil
}

// Read returns the contents of files, in order, with one git process and
// at most one fetch.
func (r *Repo) Read(ctx context.Context, files []File) ([][]byte, error) {
	if err := r.fetchBlobs(ctx, files); err != nil {
		return nil, err
	}
	var in bytes.Buffer
	for _, f := range files {
		in.WriteString(f.blob + "\n")
	}
	out, err := r.run(ctx, r.Dir, in.Bytes(), "cat-file", "--batch")
	if err != nil {
		return nil, err
	}
	data := []byte(out)
	res := make([][]byte, 0, len(files))
	for _, f := range files {
		// "<sha> blob <size>\n<content>\n"
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("git cat-file: short output at %q", f.Path)
		}
		var sha, typ string
		var size int
		if _, err := fmt.Sscanf(string(data[:nl]), "%s %s %d", &sha, &typ, &size); err != nil || sha != f.blob || nl+1+size+1 > len(data) {
			return nil, fmt.Errorf("git cat-file: unexpected header %q for %q", data[:nl], f.Path)
		}
		res = append(res, data[nl+1:nl+1+size])
		data = data[nl+1+size+1:]
	}
	return res, nil
}

// fetchBlobs brings the blobs of files the partial clone may lack in one
// fetch, as git's own lazy fetch does but for all at once: left to git,
// each blob would cost a round trip of its own. Blobs already here are
// not asked for again; a clone the server sent whole asks for nothing.
func (r *Repo) fetchBlobs(ctx context.Context, files []File) error {
	var in bytes.Buffer
	var want []string
	for _, f := range files {
		if !r.have[f.blob] {
			in.WriteString(f.blob + "\n")
			want = append(want, f.blob)
			r.have[f.blob] = true // once per blob, even if listed twice
		}
	}
	if len(want) == 0 {
		return nil
	}
	_, err := r.net(ctx, r.Dir, in.Bytes(), nil, "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "--no-tags",
		"--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin", "origin")
	if err != nil {
		for _, b := range want {
			delete(r.have, b)
		}
		return fmt.Errorf("fetch %d file(s): %w", len(want), err)
	}
	return nil
}

// WriteBlobs stores contents as blobs and returns their ids, in order,
// with one git process whatever their number: one process per file cost
// minutes on a repo-wide change.
func (r *Repo) WriteBlobs(ctx context.Context, contents [][]byte) ([]string, error) {
	if len(contents) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	for i, c := range contents {
		fmt.Fprintf(&in, "blob\nmark :%d\ndata %d\n", i+1, len(c))
		in.Write(c)
		fmt.Fprintf(&in, "\nget-mark :%d\n", i+1)
	}
	// --done: a stream cut short is an error, not a partial import.
	in.WriteString("done\n")
	out, err := r.run(ctx, r.Dir, in.Bytes(), "fast-import", "--quiet", "--done")
	if err != nil {
		return nil, err
	}
	ids := strings.Fields(out)
	if len(ids) != len(contents) {
		return nil, fmt.Errorf("git fast-import: %d blob ids for %d blobs", len(ids), len(contents))
	}
	for _, id := range ids {
		r.have[id] = true
	}
	return ids, nil
}

// RemoteCommit fetches branch's tip as refs/remotes/origin/<branch> and
// returns its commit, tree and first parent, or sha "" when the branch
// does not exist.
func (r *Repo) RemoteCommit(ctx context.Context, branch string) (sha, tree, parent string, err error) {
	out, err := r.net(ctx, r.Dir, nil, nil, "ls-remote", "origin", "refs/heads/"+branch)
	if err != nil || strings.TrimSpace(out) == "" {
		return "", "", "", err
	}
	ref := "refs/remotes/origin/" + branch
	if _, err := r.net(ctx, r.Dir, nil, nil, "fetch", "--quiet", "--depth", "1", "--no-tags", "origin", "+refs/heads/"+branch+":"+ref); err != nil {
		return "", "", "", err
	}
	if sha, err = r.Git(ctx, "rev-parse", "--verify", ref+"^{commit}"); err != nil {
		return "", "", "", err
	}
	tree, parent, err = r.CommitInfo(ctx, ref)
	return sha, tree, parent, err
}

// ErrNoShallowExclude is a remote that cannot send a branch's history
// without that of another (git's --shallow-exclude).
var ErrNoShallowExclude = errors.New("the remote does not support fetching with --shallow-exclude")

// CommitsNotOn fetches the commits of the remote branch that the remote's
// base does not reach, and returns them newest first, each with the values
// of its trailer key. Only those commits are fetched, not base's history.
func (r *Repo) CommitsNotOn(ctx context.Context, branch, base, key string) ([]Commit, error) {
	ref := "refs/remotes/origin/" + branch
	_, err := r.net(ctx, r.Dir, nil, nil, "fetch", "--quiet", "--no-tags", "--shallow-exclude=refs/heads/"+base, "origin", "+refs/heads/"+branch+":"+ref)
	switch {
	case err != nil && strings.Contains(err.Error(), "no commits selected for shallow requests"):
		return nil, nil // base reaches all of branch
	case err != nil && strings.Contains(err.Error(), "does not support --shallow-exclude"):
		return nil, fmt.Errorf("%w: %w", ErrNoShallowExclude, err)
	case err != nil:
		return nil, err
	}
	// The fetch cut history at base: what ref reaches now is branch's own.
	return r.Commits(ctx, key, ref, "--not", "refs/remotes/origin/"+base)
}

// Commit is a commit and the values of one of its trailers.
type Commit struct {
	SHA      string
	Trailers []string
}

// Commits lists the commits revs select (git rev-list arguments), newest
// first, with the values of their trailer key.
func (r *Repo) Commits(ctx context.Context, key string, revs ...string) ([]Commit, error) {
	args := append([]string{"log", "-z", "--format=%H%n%(trailers:key=" + key + ",valueonly,unfold,separator=%x1f)"}, revs...)
	out, err := r.run(ctx, r.Dir, nil, append(args, "--")...)
	if err != nil {
		return nil, err
	}
	var cs []Commit
	for _, rec := range strings.Split(out, "\x00") {
		sha, values, _ := strings.Cut(strings.TrimSpace(rec), "\n")
		if sha == "" {
			continue
		}
		c := Commit{SHA: sha}
		if values = strings.TrimSpace(values); values != "" {
			c.Trailers = strings.Split(values, "\x1f")
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// WithTrailer returns message with the trailer "key: value" added the way
// git interpret-trailers does, replacing one of the same key.
func (r *Repo) WithTrailer(ctx context.Context, message, key, value string) (string, error) {
	return r.run(ctx, r.Dir, []byte(message), "interpret-trailers", "--if-exists", "replace", "--trailer", key+": "+value)
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
