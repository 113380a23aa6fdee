package scan

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// A registry that accepts connections and never answers ends the scan
// with exit 3 once the tries are spent, naming them: no hang.
func TestSilentRegistryExits3(t *testing.T) {
	ctx := transport.WithOptions(context.Background(), transport.Tight(300*time.Millisecond, 3))
	ref := testenv.Silent(t) + "/acme/api:1.0"
	var r scanRun
	took := testenv.Within(t, 30*time.Second, func() {
		r = runScanCtx(t, ctx, "--image-ref", ref, "--vulnerabilities=false", "--sbom-file", filepath.Join(t.TempDir(), "sbom.json"))
	})
	if r.code != 3 || !strings.Contains(r.stderr, "gave up after 3 attempts") || took > 15*time.Second {
		t.Errorf("exit %d after %s, stderr %q; want exit 3 saying it gave up after 3 attempts", r.code, took, r.stderr)
	}
}

// A registry that refuses connections for a moment, then resets the first
// ones it accepts, is waited for.
func TestRefusedThenResetRegistryIsRetried(t *testing.T) {
	img, _ := fixture(t)
	reg := testenv.StartRegistry(t, "ci", "s3cret")
	ref, err := name.ParseReference(reg.Ref("acme/api:1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, reg.Options()...); err != nil {
		t.Fatal(err)
	}
	front, resets := testenv.Flaky(t, reg.Host, 500*time.Millisecond, 2)
	ctx := transport.WithOptions(context.Background(), transport.Options{Attempts: 8, Backoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	sbom := filepath.Join(t.TempDir(), "sbom.json")
	r := runScanCtx(t, ctx, "--image-ref", front+"/acme/api:1.0", "--registry-username", reg.Username, "--registry-password", reg.Password,
		"--vulnerabilities=false", "--sbom-file", sbom)
	if r.code != 0 {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if data, err := os.ReadFile(sbom); err != nil || !strings.Contains(string(data), `"spdxVersion"`) {
		t.Errorf("no SPDX SBOM of the pulled image: %v %.200s", err, data)
	}
	if resets.Load() != 2 {
		t.Errorf("%d connections reset, want 2", resets.Load())
	}
}

// A database repository that never answers ends the scan with exit 3 once
// the tries are spent: no hang.
func TestSilentDBRepositoryExits3(t *testing.T) {
	ctx := transport.WithOptions(context.Background(), transport.Tight(300*time.Millisecond, 3))
	_, layout := fixture(t)
	db := testenv.Silent(t) + "/mirror/trivy-db:2"
	var r scanRun
	took := testenv.Within(t, 60*time.Second, func() {
		r = runScanCtx(t, ctx, "--input", layout, "--db-repository", db, "--cache-dir", t.TempDir(), "--sbom-file", filepath.Join(t.TempDir(), "sbom.json"))
	})
	if r.code != 3 || !strings.Contains(r.stderr, "gave up after 3 attempts") {
		t.Errorf("exit %d after %s, stderr %q; want exit 3 saying it gave up after 3 attempts", r.code, took, r.stderr)
	}
}

// A registry's 429 with Retry-After is waited out for as long as it asks,
// then the scan goes on.
func TestRetryAfterIsHonoured(t *testing.T) {
	img, _ := fixture(t)
	reg := testenv.StartRegistry(t, "ci", "s3cret")
	ref, err := name.ParseReference(reg.Ref("acme/api:1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, reg.Options()...); err != nil {
		t.Fatal(err)
	}
	backend, _ := url.Parse(reg.URL)
	proxy := httputil.NewSingleHostReverseProxy(backend)
	var mu sync.Mutex
	var limitedAt, retriedAt time.Time
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			mu.Lock()
			first := limitedAt.IsZero()
			if first {
				limitedAt = time.Now()
			} else if retriedAt.IsZero() {
				retriedAt = time.Now()
			}
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "3")
				http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	r := runScan(t, "--image-ref", strings.TrimPrefix(front.URL, "http://")+"/acme/api:1.0", "--registry-username", reg.Username, "--registry-password", reg.Password,
		"--vulnerabilities=false", "--sbom-file", filepath.Join(t.TempDir(), "sbom.json"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if gap := retriedAt.Sub(limitedAt); gap < 3*time.Second {
		t.Errorf("the manifest was asked for again after %s, before the Retry-After of 3s", gap)
	}
}
