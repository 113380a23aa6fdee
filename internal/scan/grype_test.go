package scan

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	grypebuild "github.com/anchore/grype/grype/db/v6/build"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/gitops-actions/gitops-actions/internal/grypematch"
	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/vulndb"
)

// realAdvisories are published advisories for package versions the test
// image holds (openssl 3.0.11-1~deb12u1: DSA-5532-1 fixed CVE-2023-5363 in
// 3.0.11-1~deb12u2; lodash 4.17.20: GHSA-35jh-r3h4-6jhm, fixed in
// 4.17.21) and one it does not (golang.org/x/text before 0.3.8).
var realAdvisories = []scanfixture.Advisory{
	{ID: "CVE-2023-5363", Severity: "HIGH", Ecosystem: "debian", Package: "openssl", Fixed: "3.0.11-1~deb12u2",
		Title: "openssl: Incorrect cipher key and IV length processing"},
	{ID: "CVE-2021-23337", Severity: "HIGH", Ecosystem: "npm", Package: "lodash", Vulnerable: "<4.17.21", Fixed: "4.17.21",
		Title: "lodash: command injection via template"},
	{ID: "CVE-2022-32149", Severity: "HIGH", Ecosystem: "go", Package: "golang.org/x/text", Vulnerable: "<0.3.8", Fixed: "0.3.8",
		Title: "golang.org/x/text/language: ParseAcceptLanguage takes a long time to parse complex tags"},
}

var agreementAdvisories = append(slices.Clone(testAdvisories), realAdvisories...)

// newGrypeCache makes a cache-dir holding trivy's and grype's test
// databases, both written from advisories.
func newGrypeCache(t *testing.T, advisories []scanfixture.Advisory) string {
	t.Helper()
	dir := t.TempDir()
	if err := scanfixture.WriteDB(filepath.Join(dir, "db"), advisories, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := scanfixture.WriteGrypeDB(filepath.Join(dir, grypematch.DirName), advisories); err != nil {
		t.Fatal(err)
	}
	return dir
}

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	return "http://" + testenv.Closed(t) + "/databases"
}

// match is one finding as "ID pkg@version".
func (r scanRun) matches(scanner string) []string {
	var out []string
	vs, _ := r.report["vulnerabilities"].([]any)
	for _, v := range vs {
		m := v.(map[string]any)
		sc, _ := m["scanners"].([]any)
		if scanner != "" && !slices.Contains(sc, any(scanner)) {
			continue
		}
		out = append(out, m["id"].(string)+" "+m["package"].(string)+"@"+m["installed"].(string))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// grypeCLI runs the grype CLI offline on input against the cache's grype
// database and returns its matches as "ID pkg@version".
func grypeCLI(t *testing.T, bin, cache, input string) []string {
	t.Helper()
	out := runGrypeCLI(t, bin, cache, input, "json")
	var doc struct {
		Matches []struct {
			Vulnerability struct{ ID string } `json:"vulnerability"`
			Artifact      struct{ Name, Version string }
		} `json:"matches"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("grype -o json: %v", err)
	}
	var ms []string
	for _, m := range doc.Matches {
		ms = append(ms, m.Vulnerability.ID+" "+m.Artifact.Name+"@"+m.Artifact.Version)
	}
	slices.Sort(ms)
	return slices.Compact(ms)
}

// runGrypeCLI runs the grype CLI offline on input against the cache's
// grype database, writing format (-o) to standard output.
func runGrypeCLI(t *testing.T, bin, cache, input, format string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, input, "-o", format, "-q")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GRYPE_DB_CACHE_DIR="+filepath.Join(cache, grypematch.DirName),
		"GRYPE_DB_AUTO_UPDATE=false", "GRYPE_DB_VALIDATE_AGE=false", "GRYPE_CHECK_FOR_APP_UPDATE=false", "GRYPE_DB_REQUIRE_UPDATE_CHECK=false")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("grype %s -o %s: %v\n%s", input, format, err, cmdStderr(err))
	}
	return out
}

func cmdStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// diff is what a has and b lacks.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// On the test image with one database, scanner: grype finds what the
// grype CLI finds, on the image itself (the CLI catalogs it with syft) and
// on the SBOM the action wrote, for either sbom-generator. Both
// sets and any difference are printed.
func TestGrypeAgreesWithCLI(t *testing.T) {
	img, tar := fixture(t)
	cache := newGrypeCache(t, agreementAdvisories)
	bin := testenv.CLI(t, testenv.GrypeModule, testenv.GrypeVersion)
	oci := filepath.Join(t.TempDir(), "oci")
	lp, err := layout.Write(oci, empty.Index)
	if err == nil {
		err = lp.AppendImage(img)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, gen := range []string{"syft", "trivy"} {
		t.Run(gen, func(t *testing.T) {
			sbom := filepath.Join(t.TempDir(), "sbom.syft.json")
			r := runScan(t, "--input", tar, "--cache-dir", cache, "--skip-db-update", "--scanner", "grype", "--fail-on", "none",
				"--sbom-generator", gen, "--sbom-format", "syft-json", "--sbom-file", sbom)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			ours := r.matches(Grype)
			// The CLI on the image checks the conversion of trivy's
			// package list too, not only grype's reading of our SBOM.
			inputs := []string{"sbom:" + sbom, "oci-dir:" + oci}
			for _, in := range inputs {
				cli := grypeCLI(t, bin, cache, in)
				t.Logf("ours (%s generator): %q", gen, ours)
				t.Logf("grype CLI on %s: %q", strings.SplitN(in, ":", 2)[0], cli)
				if a, b := diff(ours, cli), diff(cli, ours); len(a)+len(b) > 0 {
					t.Errorf("grype CLI on %s disagrees: only ours %q, only the CLI %q", in, a, b)
				}
			}
			for _, want := range []string{"CVE-2023-5363 openssl@3.0.11-1~deb12u1", "CVE-2021-23337 lodash@4.17.20"} {
				if !slices.Contains(ours, want) {
					t.Errorf("grype missed %s: %q", want, ours)
				}
			}
			for _, m := range ours {
				if strings.HasPrefix(m, "CVE-2022-32149 ") {
					t.Errorf("grype matched golang.org/x/text %s to an advisory for < 0.3.8", goTextVersion)
				}
			}
		})
	}
}

// scanner: both reports the union, each finding naming its matchers; on
// one database the two agree on every finding of the test image, and
// any disagreement is printed.
func TestScannerBoth(t *testing.T) {
	_, tar := fixture(t)
	cache := newGrypeCache(t, agreementAdvisories)
	for _, gen := range []string{"trivy", "syft"} {
		t.Run(gen, func(t *testing.T) {
			dir := t.TempDir()
			sarifFile := filepath.Join(dir, "out.sarif")
			r := runScan(t, "--input", tar, "--cache-dir", cache, "--skip-db-update", "--scanner", "both", "--fail-on", "CRITICAL",
				"--sbom-generator", gen, "--sbom-file", filepath.Join(dir, "sbom.json"), "--sarif-file", sarifFile)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1 (CRITICAL findings)\n%s", r.code, r.stderr)
			}
			trivy, grype := r.matches(Trivy), r.matches(Grype)
			t.Logf("trivy: %q", trivy)
			t.Logf("grype: %q", grype)
			if a, b := diff(trivy, grype), diff(grype, trivy); len(a)+len(b) > 0 {
				t.Errorf("trivy and grype disagree: only trivy %q, only grype %q", a, b)
			}
			all := r.matches("")
			if len(all) != len(r.report["vulnerabilities"].([]any)) {
				t.Errorf("a finding is listed twice: %q", all)
			}
			for _, v := range r.report["vulnerabilities"].([]any) {
				m := v.(map[string]any)
				if sc := m["scanners"].([]any); len(sc) != 2 {
					t.Errorf("%s in %s found by %v, want both", m["id"], m["package"], sc)
				}
			}
			data, err := os.ReadFile(sarifFile)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), `"scanners"`) || !strings.Contains(string(data), "found by trivy, grype") {
				t.Errorf("SARIF does not say which matchers found each result: %.400s", data)
			}
		})
	}
}

// grype's database is kept like trivy's: downloaded from grype-db-url into
// cache-dir, the cached copy used (with a warning) when the download
// fails, a damaged copy refused with exit 3, and none needed with
// vulnerabilities: false.
func TestGrypeDB(t *testing.T) {
	_, tar := fixture(t)
	// A listing and archive built by grype's own packaging.
	pub := t.TempDir()
	if err := scanfixture.WriteGrypeDBFile(pub, realAdvisories); err != nil {
		t.Fatal(err)
	}
	if err := grypebuild.CreateArchive(pub, "tar.gz", nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/databases/v6/", http.FileServer(http.Dir(pub))))
	t.Cleanup(srv.Close)
	cache := t.TempDir()
	// trivy's database (unused with scanner: grype) must not be what is missing.
	none := []scanfixture.Advisory{{ID: "CVE-2099-9999", Severity: "LOW", Ecosystem: "debian", Package: "not-installed", Fixed: "1"}}
	if err := scanfixture.WriteDB(filepath.Join(cache, "db"), none, time.Now()); err != nil {
		t.Fatal(err)
	}
	scan := func(url string, extra ...string) scanRun {
		return runScan(t, append([]string{"--input", tar, "--cache-dir", cache, "--scanner", "grype",
			"--grype-db-url", url, "--sbom-file", filepath.Join(t.TempDir(), "sbom.json")}, extra...)...)
	}

	// No database and no listing: exit 3, naming what to set.
	if r := scan(closedURL(t)); r.code != 3 || !strings.Contains(r.stderr, "grype-db-url") {
		t.Fatalf("no database, listing down: exit %d, want 3 naming grype-db-url\n%s", r.code, r.stderr)
	}
	// vulnerabilities: false needs no database.
	if r := scan(closedURL(t), "--vulnerabilities=false"); r.code != 0 {
		t.Fatalf("vulnerabilities: false: exit %d\n%s", r.code, r.stderr)
	}
	// Downloaded: the HIGH findings gate.
	r := scan(srv.URL+"/databases", "--fail-on", "HIGH")
	if r.code != 1 || !slices.Contains(r.vulnIDs(), "CVE-2023-5363") {
		t.Fatalf("downloaded: exit %d, findings %q, want 1 with CVE-2023-5363\n%s", r.code, r.vulnIDs(), r.stderr)
	}
	if db, _ := r.report["grype-db"].(map[string]any); db["downloaded"] != true {
		t.Errorf("report grype-db = %v, want downloaded", r.report["grype-db"])
	}
	// The listing is down now: the cached copy is used, with a warning.
	// (Forget the last check, or the hour since it spares the listing.)
	if err := os.Remove(filepath.Join(cache, grypematch.DirName, "6", "last_update_check")); err != nil {
		t.Fatal(err)
	}
	r = scan(closedURL(t), "--fail-on", "none")
	if r.code != 0 || !slices.Contains(r.vulnIDs(), "CVE-2023-5363") || !strings.Contains(r.stderr+r.stdout, "cached one") {
		t.Fatalf("listing down, cache good: exit %d, findings %q\n%s", r.code, r.vulnIDs(), r.stderr)
	}
	// A damaged cached copy is refused, never read as "nothing found".
	dbFile := filepath.Join(cache, grypematch.DirName, "6", "vulnerability.db")
	b, err := os.ReadFile(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+64; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(dbFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{closedURL(t), "--skip-db-update"}, {closedURL(t)}} {
		if r := scan(args[0], args[1:]...); r.code != 3 || !strings.Contains(r.stderr, "damaged") {
			t.Errorf("damaged cache %v: exit %d, want 3 saying damaged\n%s", args[1:], r.code, r.stderr)
		}
	}
	// With the listing back, the damaged copy is replaced.
	if r := scan(srv.URL+"/databases", "--fail-on", "none"); r.code != 0 || !slices.Contains(r.vulnIDs(), "CVE-2023-5363") {
		t.Errorf("damaged cache, listing up: exit %d, findings %q\n%s", r.code, r.vulnIDs(), r.stderr)
	}
}

// With scanner: both the summary says which matchers found each finding,
// and with scanner: grype it gives grype's database, not trivy's.
func TestSummaryNamesMatchers(t *testing.T) {
	now := time.Now()
	vs := []Vulnerability{
		{ID: "CVE-2023-5363", Severity: "HIGH", Package: "openssl", Installed: "3.0.11-1~deb12u1", Fixed: "3.0.11-1~deb12u2", Scanners: []string{Trivy, Grype}},
		{ID: "CVE-2021-23337", Severity: "HIGH", Package: "lodash", Installed: "4.17.20", Scanners: []string{Grype}},
	}
	cfg := Config{Scanner: Both, Vulnerabilities: true, SBOMFormat: "spdx-json", SBOMGenerator: "trivy", SBOMFile: "sbom.json"}
	got := summary(map[string]int{"HIGH": 2}, vs, vulndb.Info{UpdatedAt: now.Add(-time.Hour)}, now, 7, cfg) + grypeSummary(cfg, grypematch.Info{Built: now.Add(-2 * time.Hour), Schema: "v6.1.10"}, now)
	for _, want := range []string{"| Found by |", "| trivy, grype |", "| grype |", "grype database (schema v6.1.10) built", "Vulnerability database built"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	cfg.Scanner = Grype
	got = summary(map[string]int{"HIGH": 2}, vs, vulndb.Info{UpdatedAt: now.Add(-time.Hour)}, now, 7, cfg)
	if strings.Contains(got, "Found by") || strings.Contains(got, "Vulnerability database built") {
		t.Errorf("scanner: grype summary names trivy's database or a Found by column:\n%s", got)
	}
}

// A rescan from an SBOM file matches with grype too: the SBOM the action
// wrote, rescanned with scanner: grype, gives the image scan's grype
// findings, in each SBOM format of either generator.
func TestRescanWithGrype(t *testing.T) {
	_, tar := fixture(t)
	cache := newGrypeCache(t, agreementAdvisories)
	for _, tc := range [][2]string{{"syft", "spdx-json"}, {"syft", "cyclonedx-json"}, {"syft", "syft-json"}, {"trivy", "cyclonedx-json"}, {"trivy", "spdx-json"}} {
		gen, format := tc[0], tc[1]
		t.Run(gen+"/"+format, func(t *testing.T) {
			sbomFile := filepath.Join(t.TempDir(), "sbom.json")
			common := []string{"--cache-dir", cache, "--skip-db-update", "--scanner", "grype", "--fail-on", "CRITICAL"}
			image := runScan(t, slices.Concat(common, []string{"--input", tar, "--sbom-generator", gen, "--sbom-format", format, "--sbom-file", sbomFile})...)
			if image.code != 1 {
				t.Fatalf("image scan exit %d, want 1 (CRITICAL findings)\n%s", image.code, image.stderr)
			}
			rescan := runScan(t, slices.Concat(common, []string{"--sbom", sbomFile})...)
			if rescan.code != 1 {
				t.Fatalf("rescan exit %d, want 1 (CRITICAL findings)\n%s", rescan.code, rescan.stderr)
			}
			want, got := image.matches(Grype), rescan.matches(Grype)
			if len(want) == 0 {
				t.Fatal("the image scan found nothing with grype: the test proves nothing")
			}
			if a, b := diff(want, got), diff(got, want); len(a)+len(b) > 0 {
				t.Errorf("rescan with grype differs from the image scan: only image %q, only rescan %q", a, b)
			}
		})
	}
}

// The SARIF the grype CLI writes for main's image (`grype -o sarif`, as
// anchore/scan-action uploads it) is a baseline: the pull request's image
// fails only on the vulnerability it adds, with either matcher, and
// openssl bumped inside its advisory's range stays unchanged.
func TestBaselineFromGrypeCLISARIF(t *testing.T) {
	cache := newGrypeCache(t, testAdvisories)
	bin := testenv.CLI(t, testenv.GrypeModule, testenv.GrypeVersion)
	sarifData := runGrypeCLI(t, bin, cache, "oci-dir:"+writeLayout(t, platformImage(t, "amd64", mainDebs...)), "sarif")
	base := filepath.Join(t.TempDir(), "main.sarif")
	if err := os.WriteFile(base, sarifData, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := decodeBaseline(sarifData)
	if err != nil {
		t.Fatalf("reading the grype CLI's SARIF: %v\n%s", err, sarifData)
	}
	var got []string
	for _, e := range b.entries {
		got = append(got, e.ID+" "+e.Package+"@"+e.Installed+" "+e.Ecosystem)
	}
	slices.Sort(got)
	want := []string{"CVE-2099-0001 openssl@3.0.11-1~deb12u1 deb", "CVE-2099-0003 bash@5.2.15-2+b2 deb", "CVE-2099-0004 libc6@2.36-9+deb12u3 deb"}
	if b.Format != "grype SARIF" || !slices.Equal(got, want) {
		t.Fatalf("grype CLI SARIF read as %s %q, want grype SARIF %q", b.Format, got, want)
	}
	pr := writeLayout(t, platformImage(t, "amd64", prDebs...))
	for _, scanner := range []string{Grype, Trivy} {
		t.Run(scanner, func(t *testing.T) {
			r := runScan(t, "--input", pr, "--cache-dir", cache, "--skip-db-update", "--severity", allSeverities, "--scanner", scanner,
				"--sbom-file", filepath.Join(t.TempDir(), "s.json"), "--baseline", base, "--fail-on", "HIGH")
			if r.code != 1 {
				t.Fatalf("exit %d, want 1 (one new HIGH)\n%s", r.code, r.stderr)
			}
			checkOutputs(t, r, wantNew)
			want := []string{"CVE-2099-0001 openssl unchanged", "CVE-2099-0002 zlib1g new", "CVE-2099-0004 libc6 unchanged"}
			if got := r.states(); !slices.Equal(got, want) {
				t.Errorf("states %q, want %q", got, want)
			}
			if got := r.fixedIDs(); !slices.Equal(got, []string{"CVE-2099-0003"}) {
				t.Errorf("fixed %q, want [CVE-2099-0003]", got)
			}
		})
	}
}
