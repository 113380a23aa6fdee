package vulndb

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
)

var advisories = []scanfixture.Advisory{
	{ID: "CVE-2099-0001", Severity: "CRITICAL", Ecosystem: "debian", Package: "openssl", Fixed: "3.0.13-1~deb12u1"},
	{ID: "GHSA-test-npm1", Severity: "CRITICAL", Ecosystem: "npm", Package: "lodash", Vulnerable: "<4.17.21", Fixed: "4.17.21"},
}

func newDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := scanfixture.WriteDB(dir, advisories, time.Now()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pages returns the database's page size, how many pages its header says
// it has, and the ids of those in use (not meta pages, not free ones).
func pages(t *testing.T, path string) (size, n int, used []int) {
	t.Helper()
	db, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		size = db.Info().PageSize
		n = int(tx.Size()) / size
		for id := 2; id < n; id++ {
			p, err := tx.Page(id)
			if err != nil {
				return err
			}
			if p.Type != "free" {
				used = append(used, id)
				id += p.OverflowCount
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size, n, used
}

// Random bytes over any one page in use (branch, leaf and freelist pages;
// the meta pages have a checksum bbolt checks itself) are found by the check, as an error and
// not a crash; an intact database passes and its check is recorded.
func TestCheckFindsEveryDamagedPage(t *testing.T) {
	dir := newDB(t)
	path := filepath.Join(dir, "trivy.db")
	if _, err := cached(dir); err != nil {
		t.Fatalf("an intact database failed its check: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !stampOf(fi).matches(dir) {
		t.Error("the check of an intact database was not recorded")
	}
	intact, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	size, _, used := pages(t, path)
	if len(used) < 3 {
		t.Fatalf("the test database uses only pages %v", used)
	}
	for _, page := range used {
		for seed := uint64(1); seed <= 3; seed++ {
			b := append([]byte(nil), intact...)
			r := rand.New(rand.NewPCG(uint64(page), seed))
			for i := page * size; i < (page+1)*size; i++ {
				b[i] = byte(r.Uint32())
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := checkFile(path, true); err == nil {
				t.Errorf("page %d (of %v in use), seed %d: random bytes passed the check", page, used, seed)
			}
		}
	}
}

// A file cut short is found without reading past its end (which would be
// SIGBUS), and the message says so.
func TestCheckTruncated(t *testing.T) {
	dir := newDB(t)
	path := filepath.Join(dir, "trivy.db")
	size, n, _ := pages(t, path)
	for _, keep := range []int{2 * size, (n - 1) * size, n*size - 1} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b[:keep], 0o644); err != nil {
			t.Fatal(err)
		}
		for _, deep := range []bool{false, true} {
			if err := checkFile(path, deep); err == nil || !strings.Contains(err.Error(), "truncated") {
				t.Errorf("%d of %d bytes, deep %t: %v", keep, n*size, deep, err)
			}
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A database the stamp vouches for is not read in full again, but a
// rewrite of it (a new time or size) is: the stamp never covers damage
// that came after it.
func TestStampFollowsTheFile(t *testing.T) {
	dir := newDB(t)
	path := filepath.Join(dir, "trivy.db")
	if _, err := cached(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	size, _, _ := pages(t, path)
	for i := 2 * size; i < len(b); i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A write within the file system's timestamp granularity keeps the
	// time; move it as any later write would.
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := cached(dir); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a database damaged after its check passed: %v", err)
	}
}
