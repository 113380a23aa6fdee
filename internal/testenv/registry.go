package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	// The registry finds its storage driver and access controller by name in
	// registries that these packages fill from init: only the two the tests
	// use are linked in, so no cloud SDK comes along.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// Kinds of registry a test can run against.
const (
	// KindDistributionV3 is CNCF distribution v3, run in-process.
	KindDistributionV3 = "distribution-v3"
	// KindDebian28 is Debian's docker-registry package: distribution 2.8.
	KindDebian28 = "debian-2.8"
)

// realm is the basic-auth realm both registries announce in WWW-Authenticate.
const realm = "testenv"

// Registry is a running OCI registry that requires basic auth.
type Registry struct {
	// Host is the registry's address as an image reference needs it:
	// "127.0.0.1:port".
	Host string
	// URL is "http://" + Host.
	URL string
	// Username and Password are the only credentials the registry accepts.
	Username, Password string
	// Kind is KindDistributionV3 or KindDebian28.
	Kind string
	// HasTagDelete tells whether DELETE /v2/<name>/manifests/<tag> removes
	// the tag (202) instead of being refused.
	HasTagDelete bool
	// HasReferrers tells whether the OCI referrers API
	// (GET /v2/<name>/referrers/<digest>) exists.
	HasReferrers bool

	requests *requestLog
}

// Ref returns the reference of repo in this registry: "127.0.0.1:port/repo".
func (r *Registry) Ref(repo string) string {
	return r.Host + "/" + repo
}

// Auth returns the registry's credentials for go-containerregistry.
func (r *Registry) Auth() authn.Authenticator {
	return &authn.Basic{Username: r.Username, Password: r.Password}
}

// Options returns the go-containerregistry options to talk to the registry:
// its credentials, and retries short enough that a test which expects an
// error does not sit through production back-off.
func (r *Registry) Options() []remote.Option {
	return []remote.Option{
		remote.WithAuth(r.Auth()),
		remote.WithUserAgent("gitops-actions-testenv"),
		remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
	}
}

// Requests returns how many HTTP requests whose path starts with pathPrefix
// reached the registry since it started or since the last ResetRequests.
// Requests("/v2/") counts every API call; Requests("") counts everything.
func (r *Registry) Requests(pathPrefix string) int {
	return r.requests.count(pathPrefix)
}

// RequestLog returns the requests that reached the registry, in order, as
// "METHOD /path" lines, for a failing test to print.
func (r *Registry) RequestLog() []string {
	return r.requests.lines()
}

// ResetRequests forgets the requests counted so far, so that a test counts
// only what the code under test sent after its own set-up pushes.
func (r *Registry) ResetRequests() {
	r.requests.reset()
}

// requestLog records the requests a handler served.
type requestLog struct {
	mu      sync.Mutex
	entries []requestEntry
}

type requestEntry struct{ method, path string }

func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		l.mu.Lock()
		l.entries = append(l.entries, requestEntry{req.Method, req.URL.Path})
		l.mu.Unlock()
		next.ServeHTTP(w, req)
	})
}

func (l *requestLog) count(pathPrefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.entries {
		if strings.HasPrefix(e.path, pathPrefix) {
			n++
		}
	}
	return n
}

func (l *requestLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.entries))
	for i, e := range l.entries {
		out[i] = e.method + " " + e.path
	}
	return out
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}

var silenceOnce sync.Once

// silenceRegistryLogs mutes logrus, which the in-process registry logs every
// request and warning through, so that test output shows only the tests. It
// is process-wide, which is fine in a test binary.
func silenceRegistryLogs() {
	silenceOnce.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.PanicLevel)
	})
}

// StartRegistry runs CNCF distribution v3 in-process on 127.0.0.1: filesystem
// storage in a temporary directory, deletes enabled, and htpasswd basic auth
// that accepts only user and password.
func StartRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	silenceRegistryLogs()
	dir := t.TempDir()
	htpasswd := writeHtpasswd(t, dir, user, password)

	cfg := &configuration.Configuration{}
	cfg.Version = configuration.MajorMinorVersion(0, 1)
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.Storage = configuration.Storage{
		"filesystem": configuration.Parameters{"rootdirectory": filepath.Join(dir, "storage")},
		"delete":     configuration.Parameters{"enabled": true},
		// The purger walks the storage in the background from a random
		// delay on; it could still be writing when t.TempDir is removed.
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": realm, "path": htpasswd}}
	// A fixed secret silences the "generated a random secret" warning.
	cfg.HTTP.Secret = randomHex(t)

	ctx, cancel := context.WithCancel(context.Background())
	app, err := newApp(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("testenv: start distribution v3 registry: %v", err)
	}

	log := &requestLog{}
	srv := httptest.NewServer(log.wrap(app))
	t.Cleanup(func() {
		srv.Close()
		_ = app.Shutdown()
		cancel()
	})

	r := &Registry{
		Host:         strings.TrimPrefix(srv.URL, "http://"),
		URL:          srv.URL,
		Username:     user,
		Password:     password,
		Kind:         KindDistributionV3,
		HasTagDelete: true,
		// distribution v3.1 routes no referrers API: the probe in the tests
		// gets 404 for it, like from 2.8.
		HasReferrers: false,
		requests:     log,
	}
	if err := waitForRegistry(r.URL, 10*time.Second, nil); err != nil {
		t.Fatalf("testenv: distribution v3 registry at %q: %v", r.URL, err)
	}
	r.ResetRequests()
	return r
}

// newApp turns the panics handlers.NewApp reports bad configuration with into
// an error.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handlers.NewApp: %v", p)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// writeHtpasswd writes an htpasswd file with one bcrypt entry, the only hash
// the registries accept, and returns its path.
func writeHtpasswd(t testing.TB, dir, user, password string) string {
	t.Helper()
	if strings.ContainsAny(user, ":\n") {
		t.Fatalf("testenv: registry user %q must not contain ':' or a newline", user)
	}
	// The lowest cost keeps every authenticated request cheap; the hash only
	// guards a throw-away test registry.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("testenv: bcrypt password for %q: %v", user, err)
	}
	path := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(path, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatalf("testenv: write htpasswd %q: %v", path, err)
	}
	return path
}

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: random secret: %v", err)
	}
	return hex.EncodeToString(b)
}

// waitForRegistry polls GET /v2/ until the registry answers with any HTTP
// status (401 is the normal answer with auth on), the timeout passes, or
// exited is closed because the registry's process ended.
func waitForRegistry(baseURL string, timeout time.Duration, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("the registry exited before answering GET /v2/")
		default:
		}
		resp, err := client.Get(baseURL + "/v2/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no answer to GET %q within %s: %w", baseURL+"/v2/", timeout, lastErr)
}

// Registries starts every registry kind the tests should pass against:
// distribution v3 always, and Debian's docker-registry 2.8 when it is
// installed. Under CI=true Debian's is required.
func Registries(t testing.TB, user, password string) []*Registry {
	t.Helper()
	regs := []*Registry{StartRegistry(t, user, password)}
	if lookBinary(debianRegistryBinary) == "" && !inCI() {
		t.Logf("testenv: %q not installed (Debian package %q); testing against distribution v3 only", debianRegistryBinary, debianRegistryPackage)
		return regs
	}
	return append(regs, StartDebianRegistry(t, user, password))
}
