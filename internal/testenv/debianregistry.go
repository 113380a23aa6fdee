package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	debianRegistryBinary  = "docker-registry"
	debianRegistryPackage = "docker-registry"
)

// debianRegistryConfig is the 2.8 configuration. Upload purging is off so
// that nothing writes to the storage while t.TempDir removes it.
const debianRegistryConfig = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
auth:
  htpasswd:
    realm: %q
    path: %q
http:
  addr: %q
  secret: %q
`

// StartDebianRegistry runs Debian's docker-registry (distribution 2.8) as a
// child process with the same set-up as StartRegistry, behind a reverse proxy
// that counts requests. Host and URL are the proxy's.
func StartDebianRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	bin := requireBinary(t, debianRegistryBinary, debianRegistryPackage)
	dir := t.TempDir()
	htpasswd := writeHtpasswd(t, dir, user, password)
	secret := randomHex(t)

	// The port is picked by closing a listener and handing its port to the
	// child, so another process may grab it in between: try a few times.
	var backend string
	var lastErr error
	for range 3 {
		addr, err := freeAddr()
		if err != nil {
			t.Fatalf("testenv: pick a port for docker-registry: %v", err)
		}
		cfgPath := filepath.Join(dir, "config.yml")
		cfg := fmt.Sprintf(debianRegistryConfig, filepath.Join(dir, "storage"), realm, htpasswd, addr, secret)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatalf("testenv: write docker-registry config %q: %v", cfgPath, err)
		}
		if lastErr = startRegistryProcess(t, bin, cfgPath, "http://"+addr); lastErr == nil {
			backend = "http://" + addr
			break
		}
	}
	if backend == "" {
		t.Fatalf("testenv: start %q: %v", bin, lastErr)
	}

	target, err := url.Parse(backend)
	if err != nil {
		t.Fatalf("testenv: parse registry address %q: %v", backend, err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The registry builds absolute upload Locations from Host: keep
			// the proxy's so that clients come back through the counter.
			pr.Out.Host = pr.In.Host
		},
	}
	log := &requestLog{}
	srv := httptest.NewServer(log.wrap(proxy))
	t.Cleanup(srv.Close)

	return &Registry{
		Host:         strings.TrimPrefix(srv.URL, "http://"),
		URL:          srv.URL,
		Username:     user,
		Password:     password,
		Kind:         KindDebian28,
		HasTagDelete: false,
		HasReferrers: false,
		requests:     log,
	}
}

// startRegistryProcess starts `docker-registry serve cfgPath`, waits until it
// answers at baseURL and registers its kill with t.Cleanup. When it does not
// come up, the process is gone and the error carries its output.
func startRegistryProcess(t testing.TB, bin, cfgPath, baseURL string) error {
	t.Helper()
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Env = registryEnv()
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %q: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	if err := waitForRegistry(baseURL, 10*time.Second, exited); err != nil {
		stop()
		return fmt.Errorf("%w; its output:\n%s", err, out.String())
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && out.Len() > 0 {
			t.Logf("docker-registry output:\n%s", out.String())
		}
	})
	return nil
}

// registryEnv is the environment without REGISTRY_* variables, which the
// registry reads as overrides of its configuration file.
func registryEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen on %q: %w", "127.0.0.1:0", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("close listener %q: %w", addr, err)
	}
	return addr, nil
}

// lockedBuffer collects a child's output, which its copying goroutines write
// while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
