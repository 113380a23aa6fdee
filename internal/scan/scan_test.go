package scan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var allSeverities = "CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN"

// One analysis feeds both outputs: in every format and with either
// generator, the SBOM lists every package of the image with its purl, the
// report flags exactly the advisories that match, and each flagged package
// is in the SBOM under the same purl.
func TestSBOMAndVulnerabilities(t *testing.T) {
	_, tar := fixture(t)
	cache := newCache(t, time.Now())
	for _, gen := range []string{"trivy", "syft"} {
		for _, format := range []string{"spdx-json", "cyclonedx-json", "syft-json"} {
			t.Run(gen+"/"+format, func(t *testing.T) {
				sbomFile := filepath.Join(t.TempDir(), "sbom.json")
				r := runScan(t, "--input", tar, "--sbom-generator", gen, "--sbom-format", format, "--sbom-file", sbomFile,
					"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities, "--fail-on", "none")
				if r.code != 0 {
					t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
				}
				if got := r.vulnIDs(); !slices.Equal(got, wantDetected) {
					t.Errorf("flagged %v, want %v", got, wantDetected)
				}
				data, err := os.ReadFile(sbomFile)
				if err != nil {
					t.Fatal(err)
				}
				purls := sbomPURLs(t, format, data)
				for _, want := range wantPURLs {
					if !slices.ContainsFunc(purls, func(p string) bool {
						return slices.ContainsFunc(strings.Split(want, "|"), func(w string) bool { return p == w || strings.HasPrefix(p, w+"?") })
					}) {
						t.Errorf("SBOM lacks %s; has %v", want, purls)
					}
				}
				for _, p := range r.vulnPURLs() {
					if !slices.Contains(purls, p) {
						t.Errorf("vulnerable package %s is not in the SBOM under that purl", p)
					}
				}
				if r.outputs["sbom-file"] != sbomFile {
					t.Errorf("sbom-file output %q", r.outputs["sbom-file"])
				}
			})
		}
	}
}

// The gate counts after ignore-unfixed, the ignore file and VEX; each one
// changes the outcome.
func TestGate(t *testing.T) {
	_, tar := fixture(t)
	cache := newCache(t, time.Now())
	dir := t.TempDir()
	write := fileWriter(t, dir)
	ignoreValid := write("valid.trivyignore", "# accepted until the base image moves\nCVE-2099-0001 exp:2999-01-01\nGHSA-test-npm1\n")
	ignoreExpired := write("expired.trivyignore", "CVE-2099-0001 exp:2000-01-01\nGHSA-test-npm1\n")
	vex := write("openssl.vex.json", `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.org/vex/1",
  "author": "test",
  "timestamp": "2024-01-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2099-0001"},
    "products": [{"@id": "pkg:deb/debian/openssl@3.0.11-1~deb12u1"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }, {
    "vulnerability": {"name": "GHSA-test-npm1"},
    "products": [{"@id": "pkg:npm/lodash@4.17.20"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_present"
  }]
}`)
	base := []string{"--input", tar, "--cache-dir", cache, "--skip-db-update", "--sbom-file", filepath.Join(dir, "sbom.json")}
	cases := []struct {
		name                string
		args                []string
		code                int
		critical, high, low string
		expiredFinding      bool
	}{
		{"default gate fails on critical", nil, 1, "2", "2", "1", false},
		{"fail-on none", []string{"--fail-on", "none"}, 0, "2", "2", "1", false},
		{"fail-on high still fails", []string{"--fail-on", "HIGH"}, 1, "2", "2", "1", false},
		{"ignore-unfixed drops the unfixed high and low", []string{"--ignore-unfixed", "--fail-on", "none"}, 0, "2", "1", "0", false},
		{"ignore file clears the criticals", []string{"--ignore-file", ignoreValid}, 0, "0", "2", "1", false},
		{"expired ignore entry no longer ignores", []string{"--ignore-file", ignoreExpired}, 1, "1", "2", "1", true},
		{"VEX not_affected clears the criticals", []string{"--vex", vex}, 0, "0", "2", "1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runScan(t, append(slices.Clone(base), c.args...)...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", r.code, c.code, r.stdout, r.stderr)
			}
			if r.outputs["critical"] != c.critical || r.outputs["high"] != c.high || r.outputs["low"] != c.low {
				t.Errorf("critical=%s high=%s low=%s, want %s %s %s", r.outputs["critical"], r.outputs["high"], r.outputs["low"], c.critical, c.high, c.low)
			}
			if want := fmt.Sprint(c.code == 0); r.outputs["passed"] != want {
				t.Errorf("passed=%s, want %s", r.outputs["passed"], want)
			}
			expired := strings.Contains(r.stdout, "GA-IGNORE-EXPIRED") && strings.Contains(r.stdout, "CVE-2099-0001 expired on 2000-01-01")
			if expired != c.expiredFinding {
				t.Errorf("expired-entry finding reported %t, want %t\n%s", expired, c.expiredFinding, r.stdout)
			}
		})
	}
}

// SARIF holds only the severities asked for, one rule per vulnerability ID
// with help naming the fixed version.
func TestSARIFFilteredBySeverity(t *testing.T) {
	_, tar := fixture(t)
	cache := newCache(t, time.Now())
	dir := t.TempDir()
	sarifFile := filepath.Join(dir, "scan.sarif")
	r := runScan(t, "--input", tar, "--cache-dir", cache, "--skip-db-update", "--sbom-file", filepath.Join(dir, "sbom.json"),
		"--severity", "CRITICAL", "--fail-on", "none", "--sarif-file", sarifFile)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(sarifFile)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID   string `json:"id"`
						Help struct {
							Text string `json:"text"`
						} `json:"help"`
						Properties map[string]any `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("not a SARIF 2.1.0 log: %.300s", data)
	}
	var ids []string
	for _, res := range log.Runs[0].Results {
		ids = append(ids, res.RuleID)
		if res.Level != "error" || len(res.Locations) == 0 || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
			t.Errorf("result %s: level %s, locations %v", res.RuleID, res.Level, res.Locations)
		}
	}
	slices.Sort(ids)
	if want := []string{"CVE-2099-0001", "GHSA-test-npm1"}; !slices.Equal(ids, want) {
		t.Errorf("SARIF results %v, want only the criticals %v", ids, want)
	}
	helps := map[string]string{}
	for _, rule := range log.Runs[0].Tool.Driver.Rules {
		helps[rule.ID] = rule.Help.Text
		if rule.Properties["security-severity"] == nil {
			t.Errorf("rule %s has no security-severity", rule.ID)
		}
	}
	if !strings.Contains(helps["CVE-2099-0001"], "3.0.13-1~deb12u1") || !strings.Contains(helps["GHSA-test-npm1"], "4.17.21") {
		t.Errorf("rule help lacks the fixed versions: %v", helps)
	}
	// Every severity still counts towards the outputs.
	if r.outputs["high"] != "2" || r.outputs["medium"] != "1" {
		t.Errorf("outputs %v", r.outputs)
	}
}

// An unreachable db-repository falls back to the cache with a warning
// naming its age; with no cache the scan stops with exit 3 naming the refs.
func TestDBFallback(t *testing.T) {
	_, tar := fixture(t)
	unreachable := "127.0.0.1:1/trivy-db:2"
	t.Run("cache present", func(t *testing.T) {
		cache := newCache(t, time.Now().Add(-72*time.Hour))
		r := runScan(t, "--input", tar, "--cache-dir", cache, "--db-repository", unreachable, "--fail-on", "none",
			"--sbom-file", filepath.Join(t.TempDir(), "sbom.json"))
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "download failed, using the cached one built 3 days ago") || !strings.Contains(r.stderr, unreachable) {
			t.Errorf("no warning with the cache age and the ref: %s", r.stderr)
		}
		if got := r.vulnIDs(); len(got) == 0 {
			t.Errorf("the cached database was not used")
		}
	})
	t.Run("no cache", func(t *testing.T) {
		sbom := filepath.Join(t.TempDir(), "sbom.json")
		r := runScan(t, "--input", tar, "--cache-dir", t.TempDir(), "--db-repository", unreachable+",127.0.0.1:2/mirror:2", "--sbom-file", sbom)
		if r.code != 3 {
			t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
		}
		for _, want := range []string{`"127.0.0.1:1/trivy-db:2"`, `"127.0.0.1:2/mirror:2"`, "db-repository"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("error lacks %s: %s", want, r.stderr)
			}
		}
		if _, err := os.Stat(sbom); err == nil {
			t.Error("an SBOM was written although the scan failed")
		}
	})
	t.Run("skip-db-update without cache", func(t *testing.T) {
		r := runScan(t, "--input", tar, "--cache-dir", t.TempDir(), "--skip-db-update", "--sbom-file", filepath.Join(t.TempDir(), "sbom.json"))
		if r.code != 3 || !strings.Contains(r.stderr, "skip-db-update") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})
}

// vulnerabilities: false writes the same SBOM with no database anywhere
// and reports no vulnerability, neither passed nor failed.
func TestSBOMOnly(t *testing.T) {
	_, tar := fixture(t)
	sbom := filepath.Join(t.TempDir(), "sbom.json")
	r := runScan(t, "--input", tar, "--cache-dir", t.TempDir(), "--skip-db-update", "--vulnerabilities=false", "--sbom-file", sbom)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(sbom)
	if err != nil || !strings.Contains(string(b), "pkg:deb/debian/") || !strings.Contains(string(b), "pkg:golang/golang.org/x/text") {
		t.Errorf("SBOM lacks the image's packages: %v\n%.400s", err, b)
	}
	if _, ok := r.outputs["passed"]; ok {
		t.Errorf("a skipped vulnerability step must not report passed: %v", r.outputs)
	}
	if !strings.Contains(r.stderr, "writing the SBOM only") {
		t.Errorf("the skip is not said plainly: %s", r.stderr)
	}
}

// Bad inputs stop before any work, naming the input.
func TestUsageErrors(t *testing.T) {
	_, tar := fixture(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--input", tar, "--severity", "HIGH,SEVERE"}, `input "severity": "SEVERE" is not one of`},
		{[]string{"--input", tar, "--attach-sbom"}, `input "attach-sbom": needs image-ref`},
		{[]string{"--input", tar, "--ignore-file", "missing.trivyignore"}, `input "ignore-file"`},
		{[]string{"--input", filepath.Join(t.TempDir(), "nope.tar")}, `input "input"`},
		{[]string{"--input", tar, "--scanner", "clair"}, `input "scanner": "clair" is not one of trivy, grype, both`},
		{[]string{"--input", tar, "--scanner", "grype", "--grype-db-url", "ftp://mirror.example/db"}, `input "grype-db-url"`},
		{[]string{"--input", tar, "--scanner", "both", "--grype-db-url", "mirror.example/db"}, `input "grype-db-url"`},
		{[]string{"--input", tar, "--platforms", "arm64"}, `input "platforms": "arm64" is not os/arch`},
		{[]string{"--input", tar, "--platforms", "linux/arm64"}, `input "platforms"`},
		{[]string{"--path", t.TempDir(), "--platforms", "linux/amd64"}, `input "platforms": picks platforms of an image`},
		{[]string{"--path", t.TempDir(), "--sbom-file", "sbom-{platform}.json"}, `input "sbom-file"`},
	}
	for _, c := range cases {
		r := runScan(t, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %s; want 2 and %s", c.args, r.code, r.stderr, c.want)
		}
	}
}
