package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	gitBinary  = "git"
	gitPackage = "git"

	// GitAuthorName and GitAuthorEmail are the identity of every commit made
	// through Env: the initial commits of NewRepo and the tests' own.
	GitAuthorName  = "testenv"
	GitAuthorEmail = "testenv@example.invalid"

	// initialCommitDate pins NewRepo's commit so that its hash is the same on
	// every run: 2024-01-01T00:00:00Z in git's raw date format.
	initialCommitDate = "1704067200 +0000"
)

// gitGlobalConfig is the only git configuration the helpers' git processes
// see: HOME points at a temporary directory holding it and the system file
// is off, so the machine's own settings cannot change a test's outcome.
const gitGlobalConfig = `[user]
	name = ` + GitAuthorName + `
	email = ` + GitAuthorEmail + `
[init]
	defaultBranch = main
[protocol]
	version = 2
[advice]
	detachedHead = false
[safe]
	directory = *
`

// GitServer is a git smart-HTTP server (git http-backend over CGI) serving
// the bare repositories under Root, pushes included.
type GitServer struct {
	// URL is "http://127.0.0.1:port"; a repository is at URL/<name>.git.
	URL string
	// Root holds the bare repositories, as <name>.git.
	Root string
	// Username and Password, when set, are required on every request.
	Username, Password string

	filters bool
	git     string
	home    string
	stderr  *lockedBuffer

	mu     sync.Mutex
	pushes map[string]int
}

// GitServerOption configures StartGitServer.
type GitServerOption func(*GitServer)

// WithBasicAuth makes the server answer 401 with a Basic challenge to every
// request without user and password, as a hosted git forge does, so that git
// clients retry with the credentials they have.
func WithBasicAuth(user, password string) GitServerOption {
	return func(g *GitServer) {
		g.Username, g.Password = user, password
	}
}

// WithFilters lets clients fetch with object filters (uploadpack.allowFilter),
// partial clones among them, as hosted forges do; git http-backend's own
// default is to ignore them and send every object.
func WithFilters() GitServerOption {
	return func(g *GitServer) { g.filters = true }
}

// StartGitServer starts a git smart-HTTP server on 127.0.0.1 with an empty
// root; NewRepo adds repositories.
func StartGitServer(t testing.TB, opts ...GitServerOption) *GitServer {
	t.Helper()
	g := &GitServer{
		git:    requireBinary(t, gitBinary, gitPackage),
		Root:   t.TempDir(),
		home:   t.TempDir(),
		stderr: &lockedBuffer{},
		pushes: map[string]int{},
	}
	for _, opt := range opts {
		opt(g)
	}
	if err := os.WriteFile(filepath.Join(g.home, ".gitconfig"), []byte(gitGlobalConfig), 0o600); err != nil {
		t.Fatalf("testenv: write git config in %q: %v", g.home, err)
	}

	backend := &cgi.Handler{
		Path: g.git,
		Args: []string{"http-backend"},
		Dir:  g.Root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + g.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + g.home,
			// http-backend refuses pushes from users it does not know
			// (no REMOTE_USER) unless http.receivepack is on.
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=http.receivepack",
			"GIT_CONFIG_VALUE_0=true",
		},
		Stderr: g.stderr,
	}
	if g.filters {
		backend.Env = append(backend.Env, "GIT_CONFIG_KEY_1=uploadpack.allowFilter", "GIT_CONFIG_VALUE_1=true")
		for i, kv := range backend.Env {
			if kv == "GIT_CONFIG_COUNT=1" {
				backend.Env[i] = "GIT_CONFIG_COUNT=2"
			}
		}
	}
	srv := httptest.NewServer(g.authenticate(g.countPushes(unchunk(backend))))
	g.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() && g.stderr.Len() > 0 {
			t.Logf("git http-backend stderr:\n%s", g.stderr.String())
		}
	})
	return g
}

// authenticate asks for the server's credentials when it has any.
func (g *GitServer) authenticate(next http.Handler) http.Handler {
	if g.Username == "" && g.Password == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok || user != g.Username || password != g.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="testenv git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// countPushes counts the receive-pack POSTs, the requests that carry a push.
// git's 4-byte "0000" probe before a large push is not a push of its own.
func (g *GitServer) countPushes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, ".git/git-receive-pack") && r.ContentLength != 4 {
			name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".git/git-receive-pack")
			g.mu.Lock()
			g.pushes[name]++
			g.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// unchunk reads a chunked request body into memory, because net/http/cgi
// refuses chunked bodies and git sends pushes larger than http.postBuffer
// (1 MiB) chunked.
func unchunk(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength < 0 || len(r.TransferEncoding) > 0 {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, fmt.Sprintf("read request body: %v", err), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.TransferEncoding = nil
		}
		next.ServeHTTP(w, r)
	})
}

// Pushes returns how many pushes to repository name reached the server:
// receive-pack requests, whether the server then took them or not. A push
// that git gives up on itself after reading the advertised refs, such as a
// non-fast-forward one, sends none and is not counted.
func (g *GitServer) Pushes(name string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pushes[name]
}

// RepoURL returns the clone URL of repository name, without credentials.
func (g *GitServer) RepoURL(name string) string {
	return g.URL + "/" + name + ".git"
}

// AuthRepoURL returns the clone URL of repository name with the server's
// credentials as userinfo, or RepoURL when the server has none.
func (g *GitServer) AuthRepoURL(name string) string {
	if g.Username == "" && g.Password == "" {
		return g.RepoURL(name)
	}
	u, err := url.Parse(g.RepoURL(name))
	if err != nil {
		// g.URL comes from httptest and always parses.
		panic(fmt.Sprintf("testenv: parse %q: %v", g.RepoURL(name), err))
	}
	u.User = url.UserPassword(g.Username, g.Password)
	return u.String()
}

// Env returns the environment the helpers run git in: the process's own
// without GIT_* variables, HOME at a temporary directory whose .gitconfig sets
// the commit identity, protocol v2 and branch main, no system config, no
// prompts and the C locale, so that git's messages are English.
func (g *GitServer) Env() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(key, "GIT_"), key == "HOME", key == "XDG_CONFIG_HOME",
			key == "SSH_ASKPASS", key == "LC_ALL", key == "LANG", key == "LANGUAGE":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+g.home,
		"XDG_CONFIG_HOME="+filepath.Join(g.home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
	)
}

// TryGit runs git with args in dir (the current directory when dir is "")
// and returns its stdout and stderr, for a test that expects git to fail.
func (g *GitServer) TryGit(dir string, args ...string) (stdout, stderr string, err error) {
	return g.run(dir, nil, args...)
}

// Git runs git with args in dir and returns its stdout without the trailing
// newline, failing the test when git fails.
func (g *GitServer) Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	stdout, _, err := g.run(dir, nil, args...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return strings.TrimRight(stdout, "\n")
}

func (g *GitServer) run(dir string, extraEnv []string, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(g.git, args...)
	cmd.Dir = dir
	cmd.Env = append(g.Env(), extraEnv...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), stderr.String(), fmt.Errorf("git %s (in %q): %w\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return stdout.String(), stderr.String(), nil
}

// repoPath returns the bare repository of name under Root.
func (g *GitServer) repoPath(t testing.TB, name string) string {
	t.Helper()
	clean := filepath.ToSlash(filepath.Clean(name))
	if name == "" || clean != name || strings.HasPrefix(clean, "../") || clean == ".." || filepath.IsAbs(name) || strings.HasSuffix(name, ".git") {
		t.Fatalf("testenv: repository name %q must be a clean relative path without .git", name)
	}
	return filepath.Join(g.Root, filepath.FromSlash(name)+".git")
}

// NewRepo creates the bare repository <name>.git with branch main holding one
// commit of files (slash-separated path to content), and returns its clone
// URL. The commit's author, committer and date are fixed, so its hash is the
// same on every run.
func (g *GitServer) NewRepo(t testing.TB, name string, files map[string]string) string {
	t.Helper()
	bare := g.repoPath(t, name)
	if _, err := os.Stat(bare); err == nil {
		t.Fatalf("testenv: repository %q already exists at %q", name, bare)
	}
	g.Git(t, "", "init", "--quiet", "--bare", "--initial-branch=main", bare)

	work := t.TempDir()
	g.Git(t, work, "init", "--quiet", "--initial-branch=main")
	for path, content := range files {
		full := filepath.Join(work, filepath.FromSlash(path))
		if !strings.HasPrefix(full, work+string(filepath.Separator)) {
			t.Fatalf("testenv: file %q of repository %q is outside the work tree", path, name)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatalf("testenv: create directory for %q: %v", path, err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatalf("testenv: write %q: %v", path, err)
		}
	}
	g.Git(t, work, "add", "--all")
	fixedDate := []string{"GIT_AUTHOR_DATE=" + initialCommitDate, "GIT_COMMITTER_DATE=" + initialCommitDate}
	if _, _, err := g.run(work, fixedDate, "commit", "--quiet", "--allow-empty", "--message", "Initial commit"); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// A local push fills the bare repository without going through HTTP, so
	// Pushes counts only what the test itself sends.
	g.Git(t, work, "push", "--quiet", bare, "main")
	return g.RepoURL(name)
}

// Clone clones repository name over HTTP, with the server's credentials when
// it has any (kept in the origin URL, so that the clone can push), and
// returns the working tree's directory.
func (g *GitServer) Clone(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), filepath.Base(name))
	g.Git(t, "", "clone", "--quiet", g.AuthRepoURL(name), dir)
	return dir
}

// Head returns the commit SHA of branch in repository name on the server.
func (g *GitServer) Head(t testing.TB, name, branch string) string {
	t.Helper()
	return g.Git(t, "", "--git-dir="+g.repoPath(t, name), "rev-parse", "--verify", "--end-of-options", "refs/heads/"+branch+"^{commit}")
}

// ReadFile returns the content of path at the tip of branch in repository
// name on the server.
func (g *GitServer) ReadFile(t testing.TB, name, branch, path string) string {
	t.Helper()
	stdout, _, err := g.run("", nil, "--git-dir="+g.repoPath(t, name), "show", "refs/heads/"+branch+":"+path)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return stdout
}

// Log returns the subjects of the commits on branch of repository name on the
// server, newest first.
func (g *GitServer) Log(t testing.TB, name, branch string) []string {
	t.Helper()
	out := g.Git(t, "", "--git-dir="+g.repoPath(t, name), "log", "--format=%s", "refs/heads/"+branch, "--")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}
