package bump

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-actions/gitops-actions/internal/attest"
	"github.com/gitops-actions/gitops-actions/internal/attest/attesttest"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// signedRegistry is a registry with images attested keyless by the
// loopback Sigstore: good (gate passed), failed (gate failed), unsigned.
type signedRegistry struct {
	reg                    *testenv.Registry
	ss                     *attesttest.Sigstore
	good, failed, unsigned name.Digest
	root                   string
}

func startSignedRegistry(t *testing.T) *signedRegistry {
	t.Helper()
	s := &signedRegistry{reg: testenv.StartRegistry(t, "ci", "ci-pass"), ss: attesttest.Start(t)}
	push := func(repo string) name.Digest {
		d, err := name.NewDigest(s.reg.Ref(repo) + "@" + testenv.PushRandomImage(t, s.reg, repo+":v1").String())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	s.good, s.failed, s.unsigned = push("api"), push("worker"), push("unsigned")
	s.attest(t, s.good, true)
	s.attest(t, s.failed, false)
	s.root = s.ss.TrustedRootFile(t)
	// bump-manifest reads registry credentials from the Docker config.
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci:ci-pass"))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+s.reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	return s
}

func (s *signedRegistry) attest(t *testing.T, d name.Digest, passed bool) {
	t.Helper()
	dir := t.TempDir()
	status, crit, p := "passed", "0", "true"
	if !passed {
		status, crit, p = "failed", "2", "false"
	}
	report := filepath.Join(dir, "scan.json")
	os.WriteFile(report, []byte(`{"action":"scan","version":"v1.0.0","status":"`+status+`",
"outputs":{"critical":"`+crit+`","high":"1","medium":"0","low":"3","unknown":"0","fixable":"1","passed":"`+p+`"},
"db":{"updated-at":"2026-11-30T06:00:00Z","source":"ghcr.io/aquasecurity/trivy-db:2"},"vulnerabilities":[]}`), 0o600)
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/api", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_REF": "refs/heads/main", "GITHUB_WORKFLOW_REF": "acme/api/.github/workflows/ci.yml@refs/heads/main",
		"GITHUB_RUN_ID": "4242", "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary.md"),
	}
	for k, v := range s.ss.Env() {
		env[k] = v
	}
	var out bytes.Buffer
	ctx := transport.WithOptions(context.Background(), transport.Tight(2e9, 2))
	code := attest.Main(ctx, []string{"attest", "--image-ref", d.String(), "--attestations", "signature,provenance,vulnerabilities",
		"--scan-report", report, "--fulcio-url", s.ss.Fulcio.URL, "--rekor-url", s.ss.Rekor.URL,
		"--registry-username", "ci", "--registry-password", "ci-pass"}, func(k string) string { return env[k] }, &out, &out)
	if code != 0 {
		t.Fatalf("attest exit %d\n%s", code, out.String())
	}
}

func (s *signedRegistry) policy(identity string) []string {
	return []string{"--verify", "signature,provenance,vulnerabilities", "--certificate-identity", identity,
		"--certificate-oidc-issuer", attesttest.Issuer, "--trusted-root", s.root}
}

func kustomizationFor(images ...name.Digest) string {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n")
	for _, d := range images {
		b.WriteString("  - name: " + d.Context().Name() + "\n    newTag: \"v0\"\n")
	}
	return b.String()
}

// bump-manifest writes only digests whose proofs verify: an unsigned one,
// one signed by another identity and one whose scan gate failed stop the
// run with nothing pushed; the good one lands.
func TestBumpVerifiesBeforeWriting(t *testing.T) {
	s := startSignedRegistry(t)
	r := newRemote(t, map[string]string{"prod/kustomization.yaml": kustomizationFor(s.good, s.failed, s.unsigned)})
	bump := func(d name.Digest, extra ...string) runResult {
		args := append([]string{"--repository", r.url, "--token", secretToken, "--image", d.Context().Name(), "--digest", d.DigestStr(), "--tag", "v1"}, extra...)
		return runAction(t, nil, args...)
	}
	before := r.commits("main")
	for _, tc := range []struct {
		name   string
		d      name.Digest
		policy []string
		want   []string
	}{
		{"unsigned", s.unsigned, s.policy(attesttest.Identity), []string{"signature: no bundle", "the image has no Sigstore bundles", "provenance: no bundle"}},
		{"other identity", s.good, s.policy("https://github.com/acme/other/.github/workflows/ci.yml@refs/heads/main"), []string{"signature: no bundle", "acme/other"}},
		{"failed gate", s.failed, s.policy(attesttest.Identity), []string{"vulnerabilities: the newest vulnerability scan", "gate failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := bump(tc.d, tc.policy...)
			if res.code != 1 {
				t.Fatalf("exit %d, want 1\n%s", res.code, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
				}
			}
			if !strings.Contains(res.report, `"verification"`) {
				t.Errorf("report has no verification results:\n%s", res.report)
			}
			if got := r.commits("main"); got != before {
				t.Errorf("%d commits on main, want %d: an unverified image was pushed", got, before)
			}
		})
	}
	res := bump(s.good, s.policy(attesttest.Identity)...)
	if res.code != 0 {
		t.Fatalf("good image: exit %d\n%s", res.code, res.stderr)
	}
	if got := r.file("main", "prod/kustomization.yaml"); !strings.Contains(got, "digest: "+s.good.DigestStr()) {
		t.Errorf("good digest not written:\n%s", got)
	}
	if !strings.Contains(res.report, `"verified": true`) || !strings.Contains(res.report, attesttest.Identity) {
		t.Errorf("report lacks the verified proofs:\n%s", res.report)
	}
}

// A promotion verifies the digest it copies, and its pull request says
// what was verified.
func TestPromoteVerifies(t *testing.T) {
	s := startSignedRegistry(t)
	img := s.good.Context().Name()
	staging := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n  - name: " + img + "\n    newTag: \"v2\"\n    digest: " + s.good.DigestStr() + "\n"
	failedStaging := strings.ReplaceAll(staging, s.good.DigestStr(), s.failed.DigestStr())
	failedStaging = strings.ReplaceAll(failedStaging, img, s.failed.Context().Name())
	unsignedStaging := strings.ReplaceAll(staging, s.good.DigestStr(), s.unsigned.DigestStr())
	unsignedStaging = strings.ReplaceAll(unsignedStaging, img, s.unsigned.Context().Name())
	prod := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n  - name: " + img + "\n    newTag: \"v1\"\n  - name: " + s.failed.Context().Name() + "\n    newTag: \"v1\"\n  - name: " + s.unsigned.Context().Name() + "\n    newTag: \"v1\"\n"
	r := newRemote(t, map[string]string{"staging/kustomization.yaml": staging, "staging-w/kustomization.yaml": failedStaging,
		"staging-u/kustomization.yaml": unsignedStaging, "prod/kustomization.yaml": prod})
	api := testenv.StartGitHubAPI(t)
	api.RequireToken(secretToken)
	pr := map[string]any{"number": 9, "html_url": "https://github.com/acme/config/pull/9"}
	api.Handle("GET", routePulls, func(*testenv.Request) (int, any) { return http.StatusOK, []any{} })
	api.Handle("POST", routePulls, func(*testenv.Request) (int, any) { return http.StatusCreated, pr })
	env := map[string]string{"GITHUB_SERVER_URL": r.server.URL}
	promoteAs := func(identity, image, from string) runResult {
		return runAction(t, env, append([]string{"--repository", "acme/config", "--mode", "pull-request", "--github-api-url", api.URL,
			"--token", secretToken, "--image", image, "--promote-from", from, "--paths", "prod"}, s.policy(identity)...)...)
	}
	promote := func(image, from string) runResult { return promoteAs(attesttest.Identity, image, from) }

	if res := promote(s.failed.Context().Name(), "staging-w"); res.code != 1 || !strings.Contains(res.stderr, "gate failed") {
		t.Fatalf("promoting a failed-gate digest: exit %d\n%s", res.code, res.stderr)
	}
	if res := promote(s.unsigned.Context().Name(), "staging-u"); res.code != 1 || !strings.Contains(res.stderr, "the image has no Sigstore bundles") {
		t.Fatalf("promoting an unsigned digest: exit %d\n%s", res.code, res.stderr)
	}
	other := "https://github.com/acme/other/.github/workflows/ci.yml@refs/heads/main"
	if res := promoteAs(other, img, "staging"); res.code != 1 || !strings.Contains(res.stderr, "acme/other") {
		t.Fatalf("promoting a digest signed by another workflow identity: exit %d\n%s", res.code, res.stderr)
	}
	for _, req := range api.Requests() {
		if req.Method == "POST" {
			t.Fatalf("a pull request was opened for an unverified digest: %v", req)
		}
	}
	res := promote(img, "staging")
	if res.code != 0 {
		t.Fatalf("promote: exit %d\n%s", res.code, res.stderr)
	}
	var body string
	for _, req := range api.Requests() {
		if req.Method == "POST" && req.Path == routePulls {
			b, _ := req.Body.(map[string]any)
			body, _ = b["body"].(string)
		}
	}
	for _, want := range []string{"Verified before deploy", "`" + s.good.String() + "` | signature | " + attesttest.Identity,
		"| provenance | " + attesttest.Identity, "critical 0, high 1, medium 0, low 3", "scanned 20"} {
		if !strings.Contains(body, want) {
			t.Errorf("PR body lacks %q:\n%s", want, body)
		}
	}
}

// Verify inputs that cannot work are exit 2 naming the input, before the
// config repo is cloned.
func TestBumpVerifyBadInputs(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.pub")
	os.WriteFile(badKey, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o600)
	digest := "sha256:" + strings.Repeat("a", 64)
	base := []string{"--repository", "file:///nonexistent", "--image", "127.0.0.1:1/app", "--digest", digest, "--verify", "signature"}
	for _, tc := range []struct {
		name  string
		args  []string
		input string
	}{
		{"unreadable trusted root", []string{"--certificate-identity", attesttest.Identity, "--certificate-oidc-issuer", attesttest.Issuer, "--trusted-root", filepath.Join(dir, "none.json")}, "trusted-root"},
		{"bad key", []string{"--key", badKey}, "key"},
		{"unknown proof", []string{"--key", badKey, "--verify", "signatures"}, "verify"},
		{"no digest", []string{"--key", badKey, "--digest", "", "--tag", "v1"}, "digest"},
		{"policy without verify", []string{"--key", badKey, "--verify", ""}, "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runAction(t, nil, append(append([]string{}, base...), tc.args...)...)
			if res.code != 2 || !strings.Contains(res.stderr, tc.input) {
				t.Errorf("exit %d, want 2 naming %s:\n%s", res.code, tc.input, res.stderr)
			}
		})
	}
}
