package scan

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// skipImage is the fixture with a second copy of the vulnerable lodash
// under srv/app/node_modules, so skipping usr/lib/node_modules leaves a
// package that is found elsewhere too.
func skipImage(t *testing.T) v1.Image {
	t.Helper()
	img, _ := fixture(t)
	l, err := scanfixture.Layer(map[string][]byte{
		"srv/app/node_modules/lodash/package.json": []byte(`{"name": "lodash", "version": "4.17.20", "license": "MIT"}` + "\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// skipCase is one set of skip inputs and what must (not) be in the SBOM
// and the findings after it.
type skipCase struct {
	name     string
	args     []string
	sbomHas  []string // purl prefixes
	sbomNot  []string
	vulnHas  []string // "id path"
	vulnNot  []string // ids
	vulnPath map[string][]string
}

var imageSkipCases = []skipCase{
	{
		name:    "dir-and-file",
		args:    []string{"--skip-dirs", "usr/lib/node_modules", "--skip-files", "usr/local/bin/app"},
		sbomHas: []string{"pkg:npm/lodash@4.17.20", "pkg:deb/debian/openssl@"},
		sbomNot: []string{"pkg:npm/left-pad", "pkg:golang/"},
		vulnNot: []string{"GHSA-test-go01"},
		// The lodash left is the one outside the skipped directory.
		vulnPath: map[string][]string{"GHSA-test-npm1": {"srv/app/node_modules/lodash/package.json"}, "CVE-2099-0001": {"var/lib/dpkg/status"}},
	},
	{
		name:    "doublestar",
		args:    []string{"--skip-dirs", "**/node_modules\nsrv"},
		sbomHas: []string{"pkg:golang/golang.org/x/text@", "pkg:deb/debian/bash@"},
		sbomNot: []string{"pkg:npm/"},
		vulnNot: []string{"GHSA-test-npm1"},
		vulnHas: []string{"GHSA-test-go01", "CVE-2099-0002"},
	},
	{
		name:    "file-glob",
		args:    []string{"--skip-files", "usr/*/bin/*,**/lodash/package.json"},
		sbomHas: []string{"pkg:npm/left-pad@1.3.0"},
		sbomNot: []string{"pkg:golang/", "pkg:npm/lodash"},
		vulnNot: []string{"GHSA-test-go01", "GHSA-test-npm1"},
	},
}

// check runs c's assertions on a finished scan. Only trivy's generator
// names the file a language package was found in.
func (c skipCase) check(t *testing.T, gen string, r scanRun, sbom []byte) {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (the debian criticals stay)\n%s", r.code, r.stderr)
	}
	purls := sbomPURLs(t, "spdx-json", sbom)
	has := func(prefix string) bool {
		return slices.ContainsFunc(purls, func(p string) bool { return strings.HasPrefix(p, prefix) })
	}
	for _, p := range c.sbomHas {
		if !has(p) {
			t.Errorf("the SBOM lacks %s: %v", p, purls)
		}
	}
	for _, p := range c.sbomNot {
		if has(p) {
			t.Errorf("the SBOM lists %s, which is only under a skipped path: %v", p, purls)
		}
	}
	ids := r.vulnIDs()
	for _, id := range c.vulnHas {
		if !slices.Contains(ids, id) {
			t.Errorf("%s is not reported: %v", id, ids)
		}
	}
	for _, id := range c.vulnNot {
		if slices.Contains(ids, id) {
			t.Errorf("%s is reported, though its package is only under a skipped path", id)
		}
	}
	for id, want := range c.vulnPath {
		if !slices.Contains(ids, id) {
			t.Errorf("%s is not reported: %v", id, ids)
		}
		if got := vulnPaths(r, id); gen == "trivy" && !slices.Equal(got, want) {
			t.Errorf("%s found at %v, want %v", id, got, want)
		}
	}
}

// vulnPaths are the paths id is reported at.
func vulnPaths(r scanRun, id string) []string {
	var out []string
	vs, _ := r.report["vulnerabilities"].([]any)
	for _, v := range vs {
		m := v.(map[string]any)
		if m["id"] == id {
			p, _ := m["path"].(string)
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// npmAndGo are the language packages of an SBOM: what skipping changes.
// Go's stdlib (spelt differently by the generators) and the lock files'
// own project (syft lists it, trivy does not) are left out.
func npmAndGo(t *testing.T, sbom []byte) []string {
	var out []string
	for _, p := range sbomPURLs(t, "spdx-json", sbom) {
		if strings.HasPrefix(p, "pkg:golang/stdlib@") || strings.HasPrefix(p, "pkg:npm/app@") {
			continue
		}
		if strings.HasPrefix(p, "pkg:npm/") || strings.HasPrefix(p, "pkg:golang/") {
			p, _, _ = strings.Cut(p, "?")
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// skip-dirs and skip-files leave out what is only under the paths they
// name, from the SBOM and the findings, on both registries and with both
// generators, which agree on what is left (trivy's generator is trivy's
// own layer walker with these globs).
func TestSkipDirsAndFiles(t *testing.T) {
	img := skipImage(t)
	cache := newCache(t, time.Now())
	for _, reg := range testenv.Registries(t, "ci", "s3cret") {
		t.Run(reg.Kind, func(t *testing.T) {
			ref, err := name.ParseReference(reg.Ref("acme/skip:1.0"))
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img, reg.Options()...); err != nil {
				t.Fatal(err)
			}
			for _, c := range imageSkipCases {
				t.Run(c.name, func(t *testing.T) {
					lang := map[string][]string{}
					for _, gen := range []string{"trivy", "syft"} {
						sbomFile := filepath.Join(t.TempDir(), "sbom.json")
						r := runScan(t, slices.Concat([]string{"--image-ref", ref.String(), "--registry-username", reg.Username, "--registry-password", reg.Password,
							"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities, "--sbom-generator", gen, "--sbom-file", sbomFile}, c.args)...)
						sbom, err := os.ReadFile(sbomFile)
						if err != nil {
							t.Fatalf("%s: %v\n%s", gen, err, r.stderr)
						}
						t.Run(gen, func(t *testing.T) { c.check(t, gen, r, sbom) })
						lang[gen] = npmAndGo(t, sbom)
					}
					if !slices.Equal(lang["trivy"], lang["syft"]) {
						t.Errorf("the generators disagree on what is left: trivy %v, syft %v", lang["trivy"], lang["syft"])
					}
				})
			}
		})
	}
}

// The same globs on the image as a tarball (input) and on a directory
// (path), where they are relative to the directory given.
func TestSkipInputAndPath(t *testing.T) {
	cache := newCache(t, time.Now())
	tarFile := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(tarFile, nil, skipImage(t)); err != nil {
		t.Fatal(err)
	}
	c := imageSkipCases[0]
	for _, gen := range []string{"trivy", "syft"} {
		t.Run("input-"+gen, func(t *testing.T) {
			sbomFile := filepath.Join(t.TempDir(), "sbom.json")
			r := runScan(t, slices.Concat([]string{"--input", tarFile, "--cache-dir", cache, "--skip-db-update", "--severity", allSeverities,
				"--sbom-generator", gen, "--sbom-file", sbomFile}, c.args)...)
			sbom, err := os.ReadFile(sbomFile)
			if err != nil {
				t.Fatalf("%v\n%s", err, r.stderr)
			}
			c.check(t, gen, r, sbom)
		})
	}

	root := t.TempDir()
	lock := func(pkg, version string) string {
		return fmt.Sprintf(`{"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"app","version":"1.0.0","dependencies":{%q:%q}},"node_modules/%s":{"version":%q}}}`,
			pkg, version, pkg, version)
	}
	for p, body := range map[string]string{"web/package-lock.json": lock("lodash", "4.17.20"), "tools/build/package-lock.json": lock("left-pad", "1.3.0")} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, pc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"pkg:npm/left-pad@1.3.0", "pkg:npm/lodash@4.17.20"}},
		{[]string{"--skip-dirs", "tools"}, []string{"pkg:npm/lodash@4.17.20"}},
		{[]string{"--skip-dirs", "**/build"}, []string{"pkg:npm/lodash@4.17.20"}},
		{[]string{"--skip-files", "web/package-lock.json"}, []string{"pkg:npm/left-pad@1.3.0"}},
		{[]string{"--skip-files", "**/package-lock.json"}, nil},
	} {
		for _, gen := range []string{"trivy", "syft"} {
			t.Run(fmt.Sprintf("path-%s-%v", gen, pc.args), func(t *testing.T) {
				sbomFile := filepath.Join(t.TempDir(), "sbom.json")
				r := runScan(t, slices.Concat([]string{"--path", root, "--cache-dir", cache, "--skip-db-update", "--severity", allSeverities,
					"--fail-on", "none", "--sbom-generator", gen, "--sbom-file", sbomFile}, pc.args)...)
				sbom, err := os.ReadFile(sbomFile)
				if r.code != 0 || err != nil {
					t.Fatalf("exit %d (%v)\n%s", r.code, err, r.stderr)
				}
				if got := npmAndGo(t, sbom); !slices.Equal(got, pc.want) {
					t.Errorf("SBOM lists %v, want %v", got, pc.want)
				}
				lodash := slices.Contains(pc.want, "pkg:npm/lodash@4.17.20")
				if got := slices.Contains(r.vulnIDs(), "GHSA-test-npm1"); got != lodash {
					t.Errorf("GHSA-test-npm1 reported: %v, want %v", got, lodash)
				}
			})
		}
	}
}

// A glob that is not one, or one leaving the root, is exit 2 naming its
// input before anything is read; so is skipping in a rescan.
func TestSkipBadInput(t *testing.T) {
	_, tarFile := fixture(t)
	for _, c := range []struct{ args []string }{
		{[]string{"--input", tarFile, "--skip-dirs", "usr/[lib"}},
		{[]string{"--input", tarFile, "--skip-files", "usr/lib/{a,b"}},
		{[]string{"--input", tarFile, "--skip-dirs", "../etc"}},
		{[]string{"--input", tarFile, "--skip-files", "/"}},
		{[]string{"--sbom", tarFile, "--skip-dirs", "usr/lib"}},
	} {
		input := strings.TrimPrefix(c.args[2], "--")
		t.Run(strings.Join(c.args[2:], " "), func(t *testing.T) {
			args := c.args
			if args[0] != "--sbom" {
				args = append(args, "--vulnerabilities=false")
			}
			r := runScan(t, args...)
			if r.code != 2 || !strings.Contains(r.stderr, fmt.Sprintf("input %q", input)) {
				t.Errorf("exit %d, want 2 naming %s\n%s", r.code, input, r.stderr)
			}
		})
	}
}
