package scan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A version bump that stays inside the advisory's affected range is the
// same vulnerability; one that passes a fix into another range is not.
func TestSameRange(t *testing.T) {
	cases := []struct {
		eco, a, b string
		fixes     []string
		want      bool
	}{
		{"deb", "3.0.11-1~deb12u1", "3.0.11-1~deb12u1", nil, true},
		{"deb", "3.0.11-1~deb12u1", "3.0.12-1~deb12u1", []string{"3.0.13-1~deb12u1"}, true},
		{"deb", "3.0.11-1~deb12u1", "3.0.14-1~deb12u1", []string{"3.0.13-1~deb12u1"}, false},
		{"deb", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-2", nil, true},
		{"npm", "1.1.0", "1.1.5", []string{"1.2.0", "2.3.0"}, true},
		{"npm", "1.1.0", "2.1.0", []string{"1.2.0", "2.3.0"}, false},
		{"npm", "2.1.0", "1.1.0", []string{"1.2.0", "2.3.0"}, false},
		{"golang", "v0.43.0", "v0.44.0", []string{"0.50.0"}, true},
		{"golang", "v0.43.0", "v0.51.0", []string{"0.50.0"}, false},
		{"pypi", "2.0.0", "2.0.1", []string{"2.0.1"}, false},
		// No comparison for the ecosystem: a change is new.
		{"", "1.0", "1.1", nil, false},
	}
	for _, c := range cases {
		if got := sameRange(c.eco, c.a, c.b, c.fixes); got != c.want {
			t.Errorf("sameRange(%s, %s, %s, %v) = %v, want %v", c.eco, c.a, c.b, c.fixes, got, c.want)
		}
	}
}

// grype's own SARIF snapshot (from its module's tests) reads as its
// vulnerabilities: the ID without the package suffix, the package, the
// version, the ecosystem and the fixed versions.
func TestBaselineGrypeSARIFSnapshot(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/anchore/grype").Output()
	if err != nil {
		t.Fatalf("locating grype's module: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "grype/presenter/sarif/testdata/snapshot/TestSarifPresenter_image.golden"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeBaseline(data)
	if err != nil {
		t.Fatal(err)
	}
	if b.Format != "grype SARIF" || len(b.entries) != 2 {
		t.Fatalf("read %s with %d entries, want grype SARIF with 2: %+v", b.Format, len(b.entries), b.entries)
	}
	want := []baselineEntry{
		{ID: "CVE-1999-0001", Severity: "LOW", Package: "package-1", Ecosystem: "rpm", Installed: "1.1.1", Fixed: "1.2.1,2.1.3,3.4.0"},
		{ID: "CVE-1999-0002", Severity: "CRITICAL", Package: "package-2", Ecosystem: "deb", PURL: "pkg:deb/package-2@2.2.2", Installed: "2.2.2"},
	}
	for i, w := range want {
		g := b.entries[i]
		if g.ID != w.ID || g.Severity != w.Severity || g.Package != w.Package || g.Ecosystem != w.Ecosystem || g.PURL != w.PURL || g.Installed != w.Installed || g.Fixed != w.Fixed {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
}

// A value is a file when it exists, else an image reference only with a
// tag or digest; anything else is refused.
func TestBaselineKind(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "main.json")
	if err := os.WriteFile(file, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ v, want, err string }{
		{file, "file", ""},
		{dir, "", "is a directory"},
		{"ghcr.io/acme/app:main", baselineImage, ""},
		{"ghcr.io/acme/app@sha256:" + strings.Repeat("a", 64), baselineImage, ""},
		{"reports/main.json", "", "no file and no image reference"},
		{"main.sarif", "", "no file and no image reference"},
		{"ghcr.io/acme/app", "", "with a tag or digest"},
	}
	for _, c := range cases {
		got, err := baselineKind(c.v)
		if got != c.want || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("baselineKind(%q) = %q, %v; want %q, %q", c.v, got, err, c.want, c.err)
		}
	}
}
