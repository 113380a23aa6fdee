package scan

import (
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// damagedPageOffset is past bbolt's two meta pages: damage there leaves
// the header valid, so only a check of the data finds it.
const damagedPageOffset = 8192

// damages spoil a cached trivy.db in place, deterministically.
var damages = func() map[string]func(path string) error {
	m := map[string]func(string) error{
		"truncated to 8192 bytes": func(p string) error { return os.Truncate(p, damagedPageOffset) },
	}
	for seed := uint64(1); seed <= 6; seed++ {
		m[fmt.Sprintf("random bytes past 8192, seed %d", seed)] = func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			r := rand.New(rand.NewPCG(seed, seed))
			for i := damagedPageOffset; i < len(b); i++ {
				b[i] = byte(r.Uint32())
			}
			return os.WriteFile(p, b, 0o644)
		}
	}
	return m
}()

// A damaged cached database (it holds a CRITICAL advisory for openssl,
// which the image has) is never read as "no advisories" and never crashes
// the scan: offline it stops with exit 3 naming cache-dir; with a
// db-repository that answers, the database is downloaded again although
// the damaged copy claims to be current, and the CRITICAL is found.
func TestDamagedDB(t *testing.T) {
	_, tar := fixture(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	dbRef := strings.TrimPrefix(srv.URL, "http://") + "/mirror/trivy-db:2"
	ref, err := name.ParseReference(dbRef)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, dbArtifact(t, time.Now().Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(damages))
	for n := range damages {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			damaged := func(t *testing.T) string {
				cache := newCache(t, time.Now())
				if err := damages[n](filepath.Join(cache, "db", "trivy.db")); err != nil {
					t.Fatal(err)
				}
				return cache
			}
			sbom := func(t *testing.T) string { return filepath.Join(t.TempDir(), "sbom.json") }
			offline := map[string][]string{
				"skip-db-update":            {"--skip-db-update"},
				"unreachable db-repository": {"--db-repository", "127.0.0.1:1/trivy-db:2"},
			}
			for mode, args := range offline {
				t.Run(mode, func(t *testing.T) {
					cache := damaged(t)
					r := runScan(t, append([]string{"--input", tar, "--cache-dir", cache, "--sbom-file", sbom(t)}, args...)...)
					if r.code != 3 {
						t.Fatalf("exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
					}
					if want := fmt.Sprintf("cache-dir %q", cache); !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "damaged") {
						t.Errorf("the error does not say the database in %s is damaged:\n%s", want, r.stderr)
					}
					if _, ok := r.outputs["passed"]; ok {
						t.Errorf("a scan without a database reported passed=%s", r.outputs["passed"])
					}
					assertNoTrace(t, r)
				})
			}
			t.Run("db-repository answers", func(t *testing.T) {
				cache := damaged(t)
				r := runScan(t, "--input", tar, "--cache-dir", cache, "--db-repository", dbRef, "--sbom-file", sbom(t))
				if r.code != 1 || r.outputs["passed"] != "false" {
					t.Fatalf("exit %d passed=%q, want 1 and false\n%s\n%s", r.code, r.outputs["passed"], r.stdout, r.stderr)
				}
				if !slices.Contains(r.vulnIDs(), "CVE-2099-0001") || r.outputs["critical"] != "2" {
					t.Errorf("critical=%s, flagged %v: the CRITICAL CVE-2099-0001 is missing", r.outputs["critical"], r.vulnIDs())
				}
				if !strings.Contains(r.stderr, "downloaded from "+dbRef) {
					t.Errorf("the damaged database was not downloaded again:\n%s", r.stderr)
				}
				assertNoTrace(t, r)
			})
		})
	}
}

func assertNoTrace(t *testing.T, r scanRun) {
	t.Helper()
	for _, s := range []string{"goroutine ", "panic", "runtime."} {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("output holds %q, a Go trace:\n%s", s, r.stderr)
		}
	}
}
