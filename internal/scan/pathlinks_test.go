package scan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A directory scan reads nothing a symlink leads to outside path, with
// either generator: each such link is a GA-PATH-OUTSIDE finding and what
// is behind it never reaches the SBOM. Links that stay inside still count.
func TestPathLinksOutside(t *testing.T) {
	outside := t.TempDir()
	files := map[string]string{
		"package-lock.json": `{"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"app","version":"1.0.0","dependencies":{"outsidesecret-npm":"9.9.9"}},"node_modules/outsidesecret-npm":{"version":"9.9.9"}}}`,
		"go.mod":            "module example.com/x\n\ngo 1.22\n\nrequire example.com/outsidesecret-go v1.2.3\n",
		"requirements.txt":  "outsidesecret-py==1.0.0\n",
		"lib/node_modules/outsidesecret-mod/package.json": `{"name":"outsidesecret-mod","version":"6.6.6"}`,
	}
	for name, body := range files {
		p := filepath.Join(outside, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sub", "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sub", "inside", "requirements.txt"), []byte("insidepkg==1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"package-lock.json": filepath.Join(outside, "package-lock.json"),
		"go.mod":            filepath.Join(outside, "go.mod"),
		"sub/linkdir":       outside,
		"lib":               "../" + filepath.Base(outside) + "/lib",
		"sub/passwd":        "/etc/passwd",
		"alias":             "sub/inside",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	if filepath.Dir(root) != filepath.Dir(outside) {
		t.Fatal("the relative link assumes path and the outside directory are siblings")
	}
	for _, gen := range []string{"trivy", "syft"} {
		t.Run(gen, func(t *testing.T) {
			sbomFile := filepath.Join(t.TempDir(), "sbom.json")
			r := runScan(t, "--path", root, "--sbom-generator", gen, "--vulnerabilities=false", "--sbom-file", sbomFile)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			b, err := os.ReadFile(sbomFile)
			if err != nil {
				t.Fatal(err)
			}
			sbom := string(b)
			if strings.Contains(sbom, "outsidesecret") || strings.Contains(sbom, outside) {
				t.Errorf("the SBOM holds what a link outside path leads to:\n%s", sbom)
			}
			if !strings.Contains(sbom, "insidepkg") {
				t.Errorf("the SBOM lacks the package inside path")
			}
			for _, l := range []string{"package-lock.json", "go.mod", "sub/linkdir", "lib", "sub/passwd"} {
				if !strings.Contains(r.stdout, l+": error GA-PATH-OUTSIDE: "+l+" is a symlink to ") {
					t.Errorf("no GA-PATH-OUTSIDE finding for %s:\n%s", l, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "alias: error GA-PATH-OUTSIDE") {
				t.Errorf("a link inside path was reported as leaving it")
			}
		})
	}
}
