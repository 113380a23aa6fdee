package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	treport "github.com/aquasecurity/trivy/pkg/report"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gitops-actions/gitops-actions/internal/catalog"
	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
	"github.com/gitops-actions/gitops-actions/internal/target"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/vulndb"
)

// mainDebs is what main's image has: bash with CVE-2099-0003 (medium,
// fixed in b3), openssl with CVE-2099-0001 (critical, fixed in
// 3.0.13-1~deb12u1) and libc6 with CVE-2099-0004 (low, unfixed).
var mainDebs = []scanfixture.Deb{
	{Name: "bash", Version: "5.2.15-2+b2"},
	{Name: "libc6", Version: "2.36-9+deb12u3"},
	{Name: "openssl", Version: "3.0.11-1~deb12u1"},
}

// prDebs is the pull request's: bash fixed, openssl bumped but still
// below the fix (the same vulnerability), libc6 as it was, and zlib1g
// added with CVE-2099-0002 (high, unfixed): the one new vulnerability.
var prDebs = []scanfixture.Deb{
	{Name: "bash", Version: "5.2.15-2+b3"},
	{Name: "libc6", Version: "2.36-9+deb12u3"},
	{Name: "openssl", Version: "3.0.12-1~deb12u1"},
	{Name: "zlib1g", Version: "1:1.2.13.dfsg-1"},
}

// wantNew are the new-* and fixed outputs of the pull request against main.
var wantNew = map[string]string{"new-critical": "0", "new-high": "1", "new-medium": "0", "new-low": "0", "new-unknown": "0", "fixed": "1"}

func checkOutputs(t *testing.T, r scanRun, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if r.outputs[k] != v {
			t.Errorf("output %s=%q, want %q (stderr %s)", k, r.outputs[k], v, r.stderr)
		}
	}
}

// states is each reported vulnerability's baseline state, "ID package state".
func (r scanRun) states() []string {
	var out []string
	vs, _ := r.report["vulnerabilities"].([]any)
	for _, v := range vs {
		m := v.(map[string]any)
		s, _ := m["baseline"].(string)
		line := m["id"].(string) + " " + m["package"].(string) + " " + s
		if on := toStrings(m["new-on"]); len(on) > 0 {
			line += " on " + strings.Join(on, ",")
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

// fixedIDs are the report's fixed baseline vulnerabilities.
func (r scanRun) fixedIDs() []string {
	b, _ := r.report["baseline"].(map[string]any)
	fs, _ := b["fixed"].([]any)
	var out []string
	for _, f := range fs {
		out = append(out, f.(map[string]any)["id"].(string))
	}
	return out
}

// saveReport writes a run's JSON report to a file, as the report-file input does.
func saveReport(t *testing.T, r scanRun) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "main-report.json")
	writeJSON(t, p, r.report)
	return p
}

// trivySARIF is trivy's own SARIF of img: trivy's detection (the scan's
// catalog, with the test database) written by trivy's SARIF writer, as
// `trivy image --format sarif` does.
func trivySARIF(t *testing.T, img v1.Image, cache string) string {
	t.Helper()
	if err := vulndb.Open(filepath.Join(cache, "db")); err != nil {
		t.Fatal(err)
	}
	defer vulndb.Close()
	tg, err := target.OpenArchive(writeLayout(t, img))
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	res, err := catalog.Run(context.Background(), tg, catalog.Trivy, "test", catalog.Skip{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (&treport.SarifWriter{Output: &buf, Version: "0.74.0"}).Write(context.Background(), res.Report); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trivy.sarif")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A pull request's image that adds one vulnerable package over main's
// fails only on that one, against main's JSON report, our SARIF, trivy's
// SARIF, and main's image (scanned, then matched from its attached SBOM
// without a layer fetched); against its own report it passes though it
// has vulnerabilities.
func TestBaselineGatesOnlyNew(t *testing.T) {
	cache := newCache(t, time.Now())
	mainImg := platformImage(t, "amd64", mainDebs...)
	prImg := platformImage(t, "amd64", prDebs...)
	common := []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities}
	wantStates := []string{"CVE-2099-0001 openssl unchanged", "CVE-2099-0002 zlib1g new", "CVE-2099-0004 libc6 unchanged"}
	trivyBase := trivySARIF(t, mainImg, cache)
	for _, reg := range rescanRegistries(t) {
		t.Run(reg.kind, func(t *testing.T) {
			mainRef := reg.push(t, "acme/app:main", mainImg)
			prRef := reg.push(t, "acme/app:pr-7", prImg)
			dir := t.TempDir()
			mainSARIF := filepath.Join(dir, "main.sarif")
			main := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", mainRef.String(), "--sbom-file", filepath.Join(dir, "main.json"),
				"--sarif-file", mainSARIF, "--fail-on", "none"})...)
			if main.code != 0 {
				t.Fatalf("main scan: exit %d\n%s", main.code, main.stderr)
			}
			// Without a baseline every vulnerability is new, and the critical fails.
			plain := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", prRef.String(), "--sbom-file", filepath.Join(dir, "pr.json"), "--fail-on", "CRITICAL"})...)
			if plain.code != 1 {
				t.Fatalf("pull request without a baseline: exit %d, want 1\n%s", plain.code, plain.stderr)
			}
			checkOutputs(t, plain, map[string]string{"new-critical": "1", "new-high": "1", "new-low": "1", "fixed": "0"})

			for _, b := range []struct{ name, value, format string }{
				{"report", saveReport(t, main), "gitops-actions report"},
				{"our SARIF", mainSARIF, "gitops-actions scan SARIF"},
				{"trivy SARIF", trivyBase, "Trivy SARIF"},
				{"image scanned", mainRef.String(), "image scan"},
			} {
				t.Run(b.name, func(t *testing.T) {
					sarifFile := filepath.Join(t.TempDir(), "pr.sarif")
					args := slices.Concat(reg.login, common, []string{"--image-ref", prRef.String(), "--sbom-file", filepath.Join(t.TempDir(), "sbom.json"),
						"--baseline", b.value, "--sarif-file", sarifFile})
					r := runScan(t, append(args, "--fail-on", "HIGH")...)
					if r.code != 1 || !strings.Contains(r.stderr, "1 new vulnerabilities at or above HIGH") {
						t.Fatalf("exit %d, want 1 for the one new high\n%s", r.code, r.stderr)
					}
					checkOutputs(t, r, wantNew)
					if got := r.states(); !slices.Equal(got, wantStates) {
						t.Errorf("baseline states %v, want %v", got, wantStates)
					}
					if got := r.fixedIDs(); !slices.Equal(got, []string{"CVE-2099-0003"}) {
						t.Errorf("fixed %v, want CVE-2099-0003", got)
					}
					if f := r.report["baseline"].(map[string]any)["format"]; f != b.format {
						t.Errorf("baseline format %v, want %s", f, b.format)
					}
					var log struct {
						Runs []struct {
							Results []struct {
								RuleID        string `json:"ruleId"`
								BaselineState string `json:"baselineState"`
							} `json:"results"`
						} `json:"runs"`
					}
					data, err := os.ReadFile(sarifFile)
					if err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal(data, &log); err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, res := range log.Runs[0].Results {
						got = append(got, res.RuleID+" "+res.BaselineState)
					}
					slices.Sort(got)
					if want := []string{"CVE-2099-0001 unchanged", "CVE-2099-0002 new", "CVE-2099-0004 unchanged"}; !slices.Equal(got, want) {
						t.Errorf("SARIF baselineState %v, want %v", got, want)
					}
					// The critical is main's: a critical gate passes.
					if r := runScan(t, append(args, "--fail-on", "CRITICAL")...); r.code != 0 {
						t.Errorf("fail-on CRITICAL: exit %d, want 0 (the critical is in the baseline)\n%s", r.code, r.stderr)
					}
				})
			}

			// main's image with an SBOM attached: matched, no layer fetched.
			if r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", mainRef.String(), "--sbom-file", filepath.Join(dir, "att.json"),
				"--attach-sbom", "--fail-on", "none"})...); r.code != 0 {
				t.Fatalf("attaching main's SBOM: exit %d\n%s", r.code, r.stderr)
			}
			reg.reset()
			r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", prRef.String(), "--sbom-file", filepath.Join(dir, "pr2.json"),
				"--baseline", mainRef.String(), "--fail-on", "HIGH"})...)
			if r.code != 1 {
				t.Fatalf("against main's attached SBOM: exit %d, want 1\n%s", r.code, r.stderr)
			}
			checkOutputs(t, r, wantNew)
			if got := r.states(); !slices.Equal(got, wantStates) {
				t.Errorf("baseline states %v, want %v", got, wantStates)
			}
			if f := r.report["baseline"].(map[string]any)["format"]; f != "attached SBOM" {
				t.Errorf("baseline format %v, want attached SBOM", f)
			}
			if got := layerGets(t, reg.log(), mainImg); len(got) > 0 {
				t.Errorf("the baseline's layers were fetched: %v", got)
			}
			if got := layerGets(t, reg.log(), prImg); len(got) == 0 {
				t.Errorf("the pull request's image was not pulled: the request log is not this run's")
			}

			// The image against its own report: nothing new, the gate passes.
			self := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", prRef.String(), "--sbom-file", filepath.Join(dir, "pr3.json"), "--fail-on", "none"})...)
			again := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", prRef.String(), "--sbom-file", filepath.Join(dir, "pr4.json"),
				"--baseline", saveReport(t, self), "--fail-on", "LOW"})...)
			if again.code != 0 || again.outputs["critical"] != "1" || again.outputs["passed"] != "true" {
				t.Errorf("against its own report: exit %d, critical=%s passed=%s; want 0 with the critical still counted\n%s",
					again.code, again.outputs["critical"], again.outputs["passed"], again.stderr)
			}
			checkOutputs(t, again, map[string]string{"new-critical": "0", "new-high": "0", "new-medium": "0", "new-low": "0", "new-unknown": "0", "fixed": "0"})
		})
	}
}

// With grype and with both matchers, the baseline is compared the same
// way: one new high.
func TestBaselineGrypeAndBoth(t *testing.T) {
	cache := newGrypeCache(t, testAdvisories)
	reg := rescanRegistries(t)[0]
	mainRef := reg.push(t, "acme/app:main", platformImage(t, "amd64", mainDebs...))
	prRef := reg.push(t, "acme/app:pr-7", platformImage(t, "amd64", prDebs...))
	for _, scanner := range []string{Grype, Both} {
		t.Run(scanner, func(t *testing.T) {
			common := slices.Concat(reg.login, []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities, "--scanner", scanner})
			main := runScan(t, slices.Concat(common, []string{"--image-ref", mainRef.String(), "--sbom-file", filepath.Join(t.TempDir(), "s.json"), "--fail-on", "none"})...)
			if main.code != 0 {
				t.Fatalf("main: exit %d\n%s", main.code, main.stderr)
			}
			for _, base := range []string{saveReport(t, main), mainRef.String()} {
				r := runScan(t, slices.Concat(common, []string{"--image-ref", prRef.String(), "--sbom-file", filepath.Join(t.TempDir(), "s.json"),
					"--baseline", base, "--fail-on", "HIGH"})...)
				if r.code != 1 {
					t.Fatalf("against %s: exit %d, want 1\n%s", base, r.code, r.stderr)
				}
				checkOutputs(t, r, wantNew)
				if got := r.states(); !slices.Contains(got, "CVE-2099-0002 zlib1g new") || slices.ContainsFunc(got, func(s string) bool {
					return strings.HasSuffix(s, " new") && !strings.HasPrefix(s, "CVE-2099-0002 ")
				}) {
					t.Errorf("against %s: states %v, want only CVE-2099-0002 new", base, got)
				}
			}
		})
	}
}

// An index of two platforms: a vulnerability main has on amd64 only and
// the pull request has on both is new (on arm64), whether the baseline is
// main's report, main's index scanned, or its attached per-platform SBOMs.
func TestBaselineIndex(t *testing.T) {
	cache := newCache(t, time.Now())
	common := []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities}
	vulnerable := scanfixture.Deb{Name: "openssl", Version: "3.0.11-1~deb12u1"}
	clean := scanfixture.Deb{Name: "openssl", Version: "3.0.13-1~deb12u1"}
	index := func(amd, arm scanfixture.Deb) v1.ImageIndex {
		return mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: platformImage(t, "amd64", amd), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: platformImage(t, "arm64", arm), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	}
	for _, reg := range rescanRegistries(t) {
		t.Run(reg.kind, func(t *testing.T) {
			mainRef := reg.pushIndex(t, "acme/multi:main", index(vulnerable, clean))
			prRef := reg.pushIndex(t, "acme/multi:pr-7", index(vulnerable, vulnerable))
			sbom := filepath.Join(t.TempDir(), "sbom-{platform}.json")
			main := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", mainRef.String(), "--sbom-file", sbom, "--fail-on", "none"})...)
			if main.code != 0 {
				t.Fatalf("main: exit %d\n%s", main.code, main.stderr)
			}
			check := func(name, base string) {
				t.Helper()
				r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", prRef.String(), "--sbom-file", sbom, "--baseline", base, "--fail-on", "CRITICAL"})...)
				if r.code != 1 {
					t.Fatalf("%s: exit %d, want 1 (new on arm64)\n%s", name, r.code, r.stderr)
				}
				if got, want := r.states(), []string{"CVE-2099-0001 openssl new on linux/arm64"}; !slices.Equal(got, want) {
					t.Errorf("%s: states %v, want %v", name, got, want)
				}
				checkOutputs(t, r, map[string]string{"new-critical": "1", "fixed": "0"})
				// Only amd64 picked: nothing new there.
				r = runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", prRef.String(), "--sbom-file", sbom, "--baseline", base,
					"--platforms", "linux/amd64", "--fail-on", "CRITICAL"})...)
				if r.code != 0 {
					t.Errorf("%s, amd64 only: exit %d, want 0\n%s", name, r.code, r.stderr)
				}
			}
			check("report", saveReport(t, main))
			check("index scanned", mainRef.String())
			// Attach main's SBOMs per platform, then the baseline is them.
			if r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", mainRef.String(), "--sbom-file", sbom, "--attach-sbom", "--fail-on", "none"})...); r.code != 0 {
				t.Fatalf("attaching: exit %d\n%s", r.code, r.stderr)
			}
			check("attached SBOMs", mainRef.String())
		})
	}
}

// A baseline that cannot be used stops the run naming the input, before
// anything is written: exit 2 for bad input and a missing image, 3 for an
// unreachable registry.
func TestBaselineBadInput(t *testing.T) {
	img, _ := fixture(t)
	cache := newCache(t, time.Now())
	dir := t.TempDir()
	write := fileWriter(t, dir)
	reg := rescanRegistries(t)[0]
	ref := reg.push(t, "acme/app:pr", img)
	cases := []struct {
		name  string
		value string
		code  int
		want  string
	}{
		{"no such file, no reference", filepath.Join(dir, "reports/main.json"), 2, "no file and no image reference"},
		{"reference without tag", "ghcr.io/acme/app", 2, "with a tag or digest"},
		{"directory", dir, 2, "is a directory"},
		{"not JSON", write("notes.txt", "CVE-2099-0001\n"), 2, "it is not JSON"},
		{"truncated report", write("cut.json", `{"action": "scan", "vulnerabilities": [{"id": "CVE-2099-0001", "pack`), 2, "it is not JSON"},
		{"other JSON", write("list.json", `{"kind": "List", "items": []}`), 2, "JSON of neither format"},
		{"other action", write("validate.json", `{"action": "validate-config", "status": "passed", "findings": []}`), 2, `the report of the "validate-config" action`},
		{"report of an error", write("error.json", `{"action": "scan", "status": "error", "findings": []}`), 2, `holds no vulnerability results (its status is "error")`},
		{"SBOM-only report", write("skipped.json", `{"action": "scan", "status": "passed", "vulnerabilities": "skipped"}`), 2, "vulnerabilities: false"},
		{"damaged report entry", write("damaged.json", `{"action": "scan", "status": "failed", "vulnerabilities": [{"id": "CVE-2099-0001", "severity": "HIGH"}]}`), 2, "vulnerability 1 has no id, package or installed version"},
		{"SARIF of another tool", write("other.sarif", `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL"}}, "results": [{"ruleId": "js/xss", "message": {"text": "x"}}]}]}`), 2, `SARIF of "CodeQL"`},
		{"damaged trivy SARIF", write("trivy.sarif", `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Trivy", "rules": [{"id": "CVE-1", "name": "OsPackageVulnerability"}]}}, "results": [{"ruleId": "CVE-1", "ruleIndex": 0, "message": {"text": "Package: openssl"}}]}]}`), 2, "not a trivy vulnerability message"},
		{"SARIF 2.0", write("old.sarif", `{"version": "2.0.0", "runs": []}`), 2, `SARIF version "2.0.0"`},
		{"image not found", reg.host + "/acme/app:never-pushed", 2, "is not in its registry"},
		{"registry unreachable", testenv.Closed(t) + "/acme/app:main", 3, "baseline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			sbom, sarif := filepath.Join(out, "sbom.json"), filepath.Join(out, "out.sarif")
			r := runScan(t, slices.Concat(reg.login, []string{"--image-ref", ref.String(), "--cache-dir", cache, "--skip-db-update", "--baseline", c.value,
				"--sbom-file", sbom, "--sarif-file", sarif})...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) || c.code == 2 && !strings.Contains(r.stderr, `input "baseline"`) {
				t.Errorf("exit %d, stderr %s; want %d naming the input and %q", r.code, r.stderr, c.code, c.want)
			}
			if r.report["status"] != "error" {
				t.Errorf("report status %v, want error", r.report["status"])
			}
			for _, f := range []string{sbom, sarif} {
				if _, err := os.Stat(f); err == nil {
					t.Errorf("%s was written by a run that failed", filepath.Base(f))
				}
			}
		})
	}
	r := runScan(t, "--path", dir, "--vulnerabilities=false", "--baseline", "x.json", "--sbom-file", filepath.Join(t.TempDir(), "s.json"))
	if r.code != 2 || !strings.Contains(r.stderr, `input "baseline"`) {
		t.Errorf("baseline with vulnerabilities: false: exit %d, want 2 naming baseline\n%s", r.code, r.stderr)
	}
}
