package gitrepo

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

func getenv(k string) string {
	if k == "PATH" {
		return os.Getenv("PATH")
	}
	return ""
}

// proxy forwards TCP connections on l to addr, after dropping the first
// drop of them with a reset.
func proxy(t *testing.T, l net.Listener, addr string, drop int32) *atomic.Int32 {
	var seen atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if seen.Add(1) <= drop {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				continue
			}
			wg.Go(func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, up)
			})
		}
	})
	return &seen
}

// gitServer serves repository acme/config holding one file.
func gitServer(t *testing.T) (host, path string) {
	g := testenv.StartGitServer(t)
	u, err := url.Parse(g.NewRepo(t, "acme/config", map[string]string{"deploy.yaml": "kind: Deployment\n"}))
	if err != nil {
		t.Fatal(err)
	}
	return u.Host, u.Path
}

func cloneFiles(t *testing.T, r *Repo) []string {
	files, err := r.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Path)
	}
	return names
}

// A connection that is reset is retried, and the clone succeeds.
func TestCloneRetriesReset(t *testing.T) {
	host, path := gitServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := proxy(t, l, host, 2)
	r, err := Clone(context.Background(), "http://"+l.Addr().String()+path, filepath.Join(t.TempDir(), "repo"), Options{Getenv: getenv, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("clone through two resets: %v", err)
	}
	if got := cloneFiles(t, r); len(got) != 1 || got[0] != "deploy.yaml" {
		t.Errorf("clone holds %q", got)
	}
	if n := seen.Load(); n < 3 {
		t.Errorf("%d connections, want the two reset ones and more", n)
	}
}

// A refused connection is retried: the server comes up during the backoff.
func TestCloneRetriesRefused(t *testing.T) {
	host, path := gitServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connections are refused
	var waits atomic.Int32
	saved := wait
	t.Cleanup(func() { wait = saved })
	wait = func(ctx context.Context, d time.Duration) error {
		if waits.Add(1) == 1 {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("listen again on %s: %v", addr, err)
				return nil
			}
			proxy(t, l, host, 0)
		}
		return nil
	}
	r, err := Clone(context.Background(), "http://"+addr+path, filepath.Join(t.TempDir(), "repo"), Options{Getenv: getenv, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("clone after a refused connection: %v", err)
	}
	if got := cloneFiles(t, r); len(got) != 1 || waits.Load() != 1 {
		t.Errorf("clone holds %q after %d retries, want deploy.yaml after 1", got, waits.Load())
	}
}

// A server that accepts and never answers: the clone stops after its
// attempts, within a bounded time, and says so.
func TestCloneNeverAnswering(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never written to
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	start := time.Now()
	_, err = Clone(context.Background(), "http://"+l.Addr().String()+"/acme/config.git", filepath.Join(t.TempDir(), "repo"), Options{Getenv: getenv, Timeout: time.Second})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") || !strings.Contains(err.Error(), "idle timeout 1s") {
		t.Fatalf("clone from a silent server: %v; want it to give up after 3 attempts naming the timeout", err)
	}
	if took > 20*time.Second {
		t.Errorf("clone from a silent server took %s", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) < 3 {
		t.Errorf("%d connections, want one per attempt", len(conns))
	}
}

func TestTransient(t *testing.T) {
	for msg, want := range map[string]bool{
		"fatal: unable to access 'http://h/x.git/': Failed to connect to h port 80 after 0 ms: Connection refused":               true,
		"fatal: unable to access 'http://h/x.git/': Operation too slow. Less than 1 bytes/sec transferred the last 1 seconds":    true,
		"fatal: unable to access 'http://h/x.git/': The requested URL returned error: 502":                                       true,
		"fatal: unable to access 'http://h/x.git/': Recv failure: Connection reset by peer":                                      true,
		"fatal: Authentication failed for 'http://h/x.git/'":                                                                     false,
		"git clone: signal: broken pipe: ":                                                                                       true,
		"fatal: write error: Broken pipe":                                                                                        true,
		"fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights":                   true,
		"ERROR: Repository not found.\nfatal: Could not read from remote repository.":                                            false,
		"fatal: remote error: access denied or repository not exported: /nope.git":                                               false,
		"git@h: Permission denied (publickey).\nfatal: Could not read from remote repository.":                                   false,
		"fatal: repository 'http://h/x.git/' not found":                                                                          false,
		"fatal: no commits selected for shallow requests\nfatal: the remote end hung up unexpectedly":                            false,
		"! [rejected] HEAD -> main (fetch first)\nerror: failed to push some refs":                                               false,
		"fatal: '/nonexistent/config.git' does not appear to be a git repository\nfatal: Could not read from remote repository.": false,
	} {
		if got := transient(errorString(msg)); got != want {
			t.Errorf("transient(%q) = %v, want %v", msg, got, want)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// A lease push retried after its first attempt landed succeeds (the
// branch is at HEAD already), while one over a commit pushed meanwhile is
// rejected.
func TestReplaceThatLanded(t *testing.T) {
	g := testenv.StartGitServer(t)
	u := g.NewRepo(t, "acme/config", map[string]string{"deploy.yaml": "kind: Deployment\n"})
	r, err := Clone(context.Background(), u, filepath.Join(t.TempDir(), "repo"), Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	files, err := r.Files(ctx)
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v: %v", files, err)
	}
	blobs, err := r.WriteBlobs(ctx, [][]byte{[]byte("kind: Service\n")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx, files[:1], blobs, "change\n", "test", "test@example.invalid"); err != nil {
		t.Fatal(err)
	}
	if err := r.Replace(ctx, "bump/x", ""); err != nil {
		t.Fatalf("first push: %v", err)
	}
	if err := r.Replace(ctx, "bump/x", ""); err != nil {
		t.Errorf("the same push again, lease now stale: %v", err)
	}
	head, _ := r.Git(ctx, "rev-parse", "HEAD")
	if got := g.Head(t, "acme/config", "bump/x"); got != head {
		t.Errorf("bump/x at %s, want %s", got, head)
	}
	// Someone else's commit on the branch is a real rejection.
	dir := g.Clone(t, "acme/config")
	g.Git(t, dir, "commit", "--quiet", "--allow-empty", "-m", "other")
	g.Git(t, dir, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/bump/x")
	if err := r.Replace(ctx, "bump/x", head); !errors.Is(err, ErrRejected) {
		t.Errorf("push over a commit pushed meanwhile: %v, want ErrRejected", err)
	}
}
