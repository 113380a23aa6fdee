package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
)

// goTextVersion is golang.org/x/text as this repository's go.sum pins it,
// so the module cache has it without network.
const goTextVersion = "v0.43.0"

var (
	fixtureOnce sync.Once
	fixtureImg  v1.Image
	fixtureTar  string
	fixtureErr  error
)

var testDebs = []scanfixture.Deb{
	{Name: "bash", Version: "5.2.15-2+b2"},
	{Name: "libc6", Version: "2.36-9+deb12u3"},
	{Name: "openssl", Version: "3.0.11-1~deb12u1"},
	{Name: "zlib1g", Version: "1:1.2.13.dfsg-1"},
}

var testNPMs = []scanfixture.NPM{{Name: "left-pad", Version: "1.3.0"}, {Name: "lodash", Version: "4.17.20"}}

// testAdvisories: six match (two fixed critical, an unfixed high, a fixed
// high in the Go module, a fixed medium, an unfixed low); two do not.
var testAdvisories = []scanfixture.Advisory{
	{ID: "CVE-2099-0001", Severity: "CRITICAL", Ecosystem: "debian", Package: "openssl", Fixed: "3.0.13-1~deb12u1"},
	{ID: "CVE-2099-0002", Severity: "HIGH", Ecosystem: "debian", Package: "zlib1g"},
	{ID: "CVE-2099-0003", Severity: "MEDIUM", Ecosystem: "debian", Package: "bash", Fixed: "5.2.15-2+b3"},
	{ID: "CVE-2099-0004", Severity: "LOW", Ecosystem: "debian", Package: "libc6"},
	{ID: "CVE-2099-0009", Severity: "HIGH", Ecosystem: "debian", Package: "openssl", Fixed: "3.0.1-1"},
	{ID: "GHSA-test-go01", Severity: "HIGH", Ecosystem: "go", Package: "golang.org/x/text", Vulnerable: "<0.50.0", Fixed: "0.50.0"},
	{ID: "GHSA-test-npm1", Severity: "CRITICAL", Ecosystem: "npm", Package: "lodash", Vulnerable: "<4.17.21", Fixed: "4.17.21"},
	{ID: "GHSA-test-npm2", Severity: "HIGH", Ecosystem: "npm", Package: "left-pad", Vulnerable: "<1.0.0", Fixed: "1.0.0"},
}

var wantDetected = []string{"CVE-2099-0001", "CVE-2099-0002", "CVE-2099-0003", "CVE-2099-0004", "GHSA-test-go01", "GHSA-test-npm1"}

// wantPURLs are the packages every SBOM must list, by purl prefix (the
// qualifiers differ between generators). "|" separates spellings: trivy
// puts a Debian epoch in a qualifier, syft in the version.
var wantPURLs = []string{
	"pkg:deb/debian/bash@5.2.15-2%2Bb2", "pkg:deb/debian/libc6@2.36-9%2Bdeb12u3", "pkg:deb/debian/openssl@3.0.11-1~deb12u1",
	"pkg:deb/debian/zlib1g@1.2.13.dfsg-1|pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1", "pkg:golang/golang.org/x/text@" + goTextVersion,
	"pkg:npm/left-pad@1.3.0", "pkg:npm/lodash@4.17.20",
}

// fixture builds the test image once per test binary and saves it as a
// docker tarball.
func fixture(t *testing.T) (v1.Image, string) {
	t.Helper()
	fixtureOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bin, err := scanfixture.BuildGoBinary(ctx, goTextVersion, os.Environ())
		if err != nil {
			fixtureErr = err
			return
		}
		img, err := scanfixture.Image{Debs: testDebs, NPMs: testNPMs, GoBinaries: []string{"usr/local/bin/app"}, GoBinary: bin}.Build()
		if err != nil {
			fixtureErr = err
			return
		}
		dir, err := os.MkdirTemp("", "scan-fixture-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureTar = filepath.Join(dir, "image.tar")
		fixtureImg = img
		fixtureErr = tarball.WriteToFile(fixtureTar, nil, img)
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureImg, fixtureTar
}

// newCache makes a cache-dir holding the test database built at updatedAt.
func newCache(t *testing.T, updatedAt time.Time) string {
	t.Helper()
	dir := t.TempDir()
	if err := scanfixture.WriteDB(filepath.Join(dir, "db"), testAdvisories, updatedAt); err != nil {
		t.Fatal(err)
	}
	return dir
}

type scanRun struct {
	code           int
	stdout, stderr string
	outputs        map[string]string
	report         map[string]any
}

// runScan runs the action's entry point in-process, in a fresh work dir.
func runScan(t *testing.T, args ...string) scanRun {
	t.Helper()
	return runScanCtx(t, context.Background(), args...)
}

// runScanCtx runs it under ctx (which may carry network limits).
func runScanCtx(t *testing.T, ctx context.Context, args ...string) scanRun {
	t.Helper()
	dir := t.TempDir()
	reportFile := filepath.Join(dir, "report.json")
	env := map[string]string{"HOME": dir}
	var stdout, stderr bytes.Buffer
	code := Main(ctx, append([]string{"scan", "--report-file", reportFile}, args...), func(k string) string { return env[k] }, &stdout, &stderr)
	r := scanRun{code: code, stdout: stdout.String(), stderr: stderr.String(), outputs: map[string]string{}}
	for _, line := range strings.Split(r.stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.Contains(k, " ") {
			r.outputs[k] = v
		}
	}
	if data, err := os.ReadFile(reportFile); err == nil {
		if err := json.Unmarshal(data, &r.report); err != nil {
			t.Fatalf("report: %v", err)
		}
	}
	return r
}

func (r scanRun) vulnIDs() []string {
	var ids []string
	vs, _ := r.report["vulnerabilities"].([]any)
	for _, v := range vs {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func (r scanRun) vulnPURLs() []string {
	var ps []string
	vs, _ := r.report["vulnerabilities"].([]any)
	for _, v := range vs {
		ps = append(ps, v.(map[string]any)["purl"].(string))
	}
	return ps
}

// sbomPURLs reads every package purl of an SBOM in any of the formats.
func sbomPURLs(t *testing.T, format string, data []byte) []string {
	t.Helper()
	var out []string
	switch format {
	case "spdx-json":
		var doc struct {
			SPDXVersion string `json:"spdxVersion"`
			Packages    []struct {
				ExternalRefs []struct {
					Type    string `json:"referenceType"`
					Locator string `json:"referenceLocator"`
				} `json:"externalRefs"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(data, &doc); err != nil || !strings.HasPrefix(doc.SPDXVersion, "SPDX-2") {
			t.Fatalf("not an SPDX JSON document (%v): %.200s", err, data)
		}
		for _, p := range doc.Packages {
			for _, r := range p.ExternalRefs {
				if r.Type == "purl" {
					out = append(out, r.Locator)
				}
			}
		}
	case "cyclonedx-json":
		var doc struct {
			BOMFormat  string          `json:"bomFormat"`
			Components json.RawMessage `json:"components"`
		}
		if err := json.Unmarshal(data, &doc); err != nil || doc.BOMFormat != "CycloneDX" {
			t.Fatalf("not a CycloneDX JSON document (%v): %.200s", err, data)
		}
		var walk func(raw json.RawMessage)
		walk = func(raw json.RawMessage) {
			var cs []struct {
				PURL       string          `json:"purl"`
				Components json.RawMessage `json:"components"`
			}
			_ = json.Unmarshal(raw, &cs)
			for _, c := range cs {
				if c.PURL != "" {
					out = append(out, c.PURL)
				}
				if len(c.Components) > 0 {
					walk(c.Components)
				}
			}
		}
		walk(doc.Components)
	case "syft-json":
		var doc struct {
			Artifacts []struct {
				PURL string `json:"purl"`
			} `json:"artifacts"`
			Schema struct {
				Version string `json:"version"`
			} `json:"schema"`
		}
		if err := json.Unmarshal(data, &doc); err != nil || doc.Schema.Version == "" {
			t.Fatalf("not a syft JSON document (%v): %.200s", err, data)
		}
		for _, a := range doc.Artifacts {
			out = append(out, a.PURL)
		}
	}
	return out
}

// fileWriter writes test files into dir and returns their paths.
func fileWriter(t *testing.T, dir string) func(name, body string) string {
	return func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
