package pipeline

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/validate"
)

// exampleFiles reads examples/config-repo as the git helper wants it.
func exampleFiles(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..", exampleConfigRepo)
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func env(m map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		switch k {
		case "PATH", "HOME", "GOCACHE", "GOPATH", "GOMODCACHE", "GOFLAGS", "GOEXPERIMENT", "TMPDIR":
			return os.Getenv(k)
		}
		return ""
	}
}

// The whole chain against real parts: distribution with auth, git
// http-backend with a token; then what a user would check.
func TestPipelineEndToEnd(t *testing.T) {
	const user, pass, token = "ci", "registry-secret", "git-token-secret"
	reg := testenv.StartRegistry(t, user, pass)
	git := testenv.StartGitServer(t, testenv.WithBasicAuth("x-access-token", token))
	repoURL := git.NewRepo(t, "config", exampleFiles(t))
	before := git.ReadFile(t, "config", "main", "overlays/staging/kustomization.yaml")

	root, _ := filepath.Abs(filepath.Join("..", ".."))
	t.Chdir(root)
	var out, errb bytes.Buffer
	report := filepath.Join(t.TempDir(), "report.json")
	code := Main(context.Background(), []string{"pipeline",
		"--image", reg.Ref("acme/hello"),
		"--registry-username", user, "--registry-password", pass,
		"--config-repository", repoURL, "--token", token,
		"--report-file", report,
	}, env(nil), &out, &errb)
	stdout := out.String()
	if code != 0 {
		t.Fatalf("pipeline exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, errb.String())
	}
	for _, secret := range []string{pass, token} {
		if strings.Contains(stdout+errb.String(), secret) {
			t.Errorf("a secret leaked into the output")
		}
	}
	for _, stage := range []string{"== build", "== scan", "== bump-manifest", "== validate-config"} {
		if !strings.Contains(stdout, stage) {
			t.Errorf("stdout does not show stage %q", stage)
		}
	}
	rows := checkReadable(t, stdout)
	// The vulnerability stage ran against the demo database, not skipped.
	if !strings.Contains(stdout, "== vulnerabilities: demo DB, 7 advisories, built 2026-12-02") {
		t.Errorf("stdout does not say the demo DB is used:\n%s", stdout)
	}
	if !strings.Contains(stdout, "   scan | db-updated-at=2026-12-02T00:00:00Z") || strings.Contains(stdout, "vulnerabilities skipped") {
		t.Errorf("the scan did not match against the demo DB:\n%s", stdout)
	}
	checkFindingBelowGate(t, stdout, rows)
	if outputOf(stdout, "passed") != "true" {
		t.Errorf("passed output = %q, want true when every stage passed", outputOf(stdout, "passed"))
	}
	imageRef := outputOf(stdout, "image-ref")
	ref, err := name.NewDigest(imageRef)
	if err != nil {
		t.Fatalf("image-ref output %q: %v", imageRef, err)
	}
	// The image exists by digest, with the expected tag and an SBOM referrer.
	if _, err := remote.Head(ref, reg.Options()...); err != nil {
		t.Fatalf("image %s is not in the registry: %v", ref, err)
	}
	tags, err := remote.List(ref.Context(), reg.Options()...)
	if err != nil || !contains(tags, "pipeline") {
		t.Errorf("tags of %s = %v (%v), want pipeline", ref.Context(), tags, err)
	}
	idx, err := remote.Referrers(ref, reg.Options()...)
	if err != nil {
		t.Fatalf("referrers of %s: %v", ref, err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) == 0 {
		t.Errorf("no SBOM referrer is attached to %s", ref)
	}
	// The overlay on the remote holds the digest, in a one-line diff.
	after := git.ReadFile(t, "config", "main", "overlays/staging/kustomization.yaml")
	if !strings.Contains(after, "digest: "+ref.DigestStr()) {
		t.Errorf("overlay after the bump:\n%s", after)
	}
	if changed := diffLines(before, after); changed != 1 {
		t.Errorf("the bump changed %d lines, want 1:\n%s", changed, after)
	}
	checkDiffConfig(t, stdout, ref.DigestStr())
	// validate-config on the result exits 0.
	clone := git.Clone(t, "config")
	var vout, verr bytes.Buffer
	if code := validate.Main(context.Background(), []string{"validate-config", "--path", clone}, env(nil), &vout, &verr); code != 0 {
		t.Errorf("validate-config on the bumped repo: exit %d\n%s\n%s", code, vout.String(), verr.String())
	}
}

func outputOf(stdout, key string) string {
	for _, l := range strings.Split(stdout, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func diffLines(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(bl) {
		return -1
	}
	n := 0
	for i := range al {
		if al[i] != bl[i] {
			n++
		}
	}
	return n
}

// With no flags the pipeline runs offline on its embedded defaults, the
// demo vulnerability DB included: every stage runs and passes.
func TestPipelineDefaultsOffline(t *testing.T) {
	stdout := runOffline(t)
	for _, want := range []string{"== build", "== scan", "== bump-manifest", "== validate-config", "== config repo diff",
		"demo DB, 7 advisories, built 2026-12-02", "passed=true"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	rows := checkReadable(t, stdout)
	checkFindingBelowGate(t, stdout, rows)
	built, err := name.NewDigest(outputOf(stdout, "image-ref"))
	if err != nil {
		t.Fatalf("image-ref output: %v", err)
	}
	checkDiffConfig(t, stdout, built.DigestStr())
	// The run's own key signed the SBOM and the scan result, and the digest
	// was verified under it before the bump.
	if got := strings.Join(rows["verify"], " "); !strings.Contains(got, "verified signature,sbom,vulnerabilities") {
		t.Errorf("summary row of verify = %q, want the signature, SBOM and scan result verified", got)
	}
	if strings.Contains(stdout, "== act on") {
		t.Errorf("every stage passed, yet something is listed to act on:\n%s", stdout)
	}
}

// A cache-dir without a database skips the vulnerability step: it is
// never reported as passed, and it is listed to act on above the table.
func TestPipelineEmptyCacheSkipsVulnerabilities(t *testing.T) {
	stdout := runOffline(t, "--cache-dir", t.TempDir())
	if !strings.Contains(stdout, "vulnerabilities  skipped") || !strings.Contains(stdout, "passed=false") {
		t.Errorf("stdout lacks the skipped vulnerability step and passed=false:\n%s", stdout)
	}
	if strings.Contains(stdout, "vulnerabilities  passed") || strings.Contains(stdout, "demo DB") {
		t.Error("a skipped vulnerability step was reported as passed, or the demo DB was used with cache-dir given")
	}
	rows := checkReadable(t, stdout)
	if got := rows["vulnerabilities"]; len(got) < 2 || got[1] != "skipped" {
		t.Errorf("summary row of vulnerabilities = %q, want skipped", got)
	}
	if got := rows["scan"]; !strings.Contains(strings.Join(got, " "), "vulnerabilities skipped") {
		t.Errorf("summary row of scan = %q, want it to say vulnerabilities skipped", got)
	}
	act, table := strings.Index(stdout, "== act on"), strings.Index(stdout, "== summary")
	if act < 0 || act > table || !strings.Contains(stdout[act:table], "vulnerabilities skipped: cache-dir holds no vulnerability database") {
		t.Errorf("the skipped vulnerability step is not listed to act on above the summary:\n%s", stdout)
	}
}

// runOffline runs the pipeline from the checkout with every network
// attempt sent to a closed port, and returns its stdout.
func runOffline(t *testing.T, args ...string) string {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	t.Chdir(root)
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"pipeline"}, args...), env(map[string]string{
		"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "GOPROXY": "off",
	}), &out, &errb)
	if code != 0 {
		t.Fatalf("pipeline exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	return out.String()
}

// checkReadable asserts what a reader of the pipeline's output sees: no
// line twice (blank lines and the config repo diff aside), and a closing
// table with a row per stage. It returns the rows by stage name.
func checkReadable(t *testing.T, stdout string) map[string][]string {
	t.Helper()
	seen := map[string]bool{}
	inDiff := false
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "== ") {
			inDiff = l == "== config repo diff"
		}
		if inDiff || strings.TrimSpace(l) == "" {
			continue
		}
		if seen[l] {
			t.Errorf("output line printed more than once: %q", l)
		}
		seen[l] = true
	}
	_, table, ok := strings.Cut(stdout, "\n== summary\n")
	if !ok {
		t.Fatalf("no summary table:\n%s", stdout)
	}
	lines := strings.Split(table, "\n")
	if head := strings.Fields(lines[0]); strings.Join(head, " ") != "stage status duration key output" {
		t.Errorf("summary header = %q", lines[0])
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if !strings.HasPrefix(l, "   ") || len(f) < 4 {
			break
		}
		rows[f[0]] = f
	}
	for _, stage := range []string{"build", "scan", "attest", "verify", "bump-manifest", "diff-config", "validate-config"} {
		f, ok := rows[stage]
		if !ok {
			t.Errorf("summary has no row for %s:\n%s", stage, table)
			continue
		}
		if f[1] != "passed" || f[2] == "-" {
			t.Errorf("summary row of %s = %q, want passed with a duration", stage, f)
		}
	}
	if f := rows["build"]; len(f) > 3 && !strings.HasPrefix(f[3], "sha256:") {
		t.Errorf("build row key output = %q, want the short digest", f[3])
	}
	if f := rows["bump-manifest"]; len(f) > 4 && f[3] != "commit" {
		t.Errorf("bump-manifest row = %q, want the short commit", f)
	}
	if got := strings.Join(rows["diff-config"][min(3, len(rows["diff-config"])):], " "); got != "1 unit changed, 1 image" {
		t.Errorf("diff-config row key output = %q, want the one environment and image the bump changed", got)
	}
	if f := rows["validate-config"]; len(f) > 3 && f[3] != "errors=0" {
		t.Errorf("validate-config row = %q, want errors=0", f)
	}
	return rows
}

// checkFindingBelowGate: the demo image's pinned golang.org/x/text
// matches a real HIGH advisory of the demo DB; the scan shows it, the gate
// at CRITICAL lets it through, and the pipeline says so and why.
func checkFindingBelowGate(t *testing.T, stdout string, rows map[string][]string) {
	t.Helper()
	for _, want := range []string{
		"   scan | error CVE-2022-32149: CVE-2022-32149 HIGH (pkg:golang/golang.org/x/text@v0.3.7): golang.org/x/text v0.3.7, fixed in 0.3.8",
		"below the gate (fail-on CRITICAL), so the scan passed\n",
		"\n   HIGH CVE-2022-32149 in golang.org/x/text v0.3.7, fixed in 0.3.8\n     demo: examples/code-repo pins golang.org/x/text v0.3.7 on purpose",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	got := strings.Join(rows["scan"], " ")
	if !strings.Contains(got, "critical=0 high=1 ") || !strings.Contains(got, "passed=true") {
		t.Errorf("summary row of scan = %q, want critical=0 high=1 and passed=true", got)
	}
}

// checkDiffConfig: diff-config ran on the bump commit and its rendered
// diff shows the image change in the environment bumped, and in no other.
func checkDiffConfig(t *testing.T, stdout, digest string) {
	t.Helper()
	var units, images, plus []string
	for _, l := range strings.Split(stdout, "\n") {
		rest, ok := strings.CutPrefix(l, "   diff-config | ")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(rest, "=== "):
			units = append(units, rest)
		case strings.HasPrefix(rest, "image "):
			images = append(images, rest)
		case strings.HasPrefix(rest, "+") && strings.Contains(rest, "image: ghcr.io/acme/hello"):
			plus = append(plus, rest)
		}
	}
	if len(units) != 1 || !strings.HasPrefix(units[0], "=== overlays/staging (kustomize) ") {
		t.Errorf("diff-config units = %q, want overlays/staging alone", units)
	}
	want := "image overlays/staging Deployment.apps hello-staging/hello: ghcr.io/acme/hello:1.0.0@sha256:0e5a0b6f8d1c2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff0011 -> ghcr.io/acme/hello:1.0.0@" + digest
	if len(images) != 1 || images[0] != want {
		t.Errorf("diff-config image changes = %q, want %q", images, want)
	}
	if len(plus) != 1 || !strings.HasSuffix(plus[0], "@"+digest) {
		t.Errorf("the rendered diff's new image lines = %q, want one ending in %s", plus, digest)
	}
}
