package attest

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/attest/attesttest"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// encryptedKey writes a key in cosign's format with go-securesystemslib,
// the library cosign encrypts with.
func encryptedKey(t *testing.T, password string) string {
	t.Helper()
	priv, _, err := GenerateKey(password)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// closedURL is an address where nothing listens.
func closedURL(t *testing.T) string {
	return "http://" + testenv.Closed(t)
}

// Bad input stops the run with exit 2 and a message naming the input, before
// anything is signed or pushed.
func TestBadInputs(t *testing.T) {
	reg := testenv.StartRegistry(t, "ci", "ci-pass")
	digest := testenv.PushRandomImage(t, reg, "app:v1")
	ref := reg.Ref("app") + "@" + digest.String()
	dir := t.TempDir()
	key := encryptedKey(t, "right-pw")
	syft := writeFile(t, dir, "sbom.syft.json", `{"artifacts":[],"source":{},"distro":{},"descriptor":{"name":"syft"}}`)
	errored := writeFile(t, dir, "scan-error.json", `{"action":"scan","status":"error","outputs":{},"findings":[]}`)
	notScan := writeFile(t, dir, "bump.json", `{"action":"bump-manifest","status":"passed","outputs":{},"findings":[]}`)
	noVulns := writeFile(t, dir, "scan-sbom-only.json", `{"action":"scan","status":"passed","outputs":{"sbom-file":"sbom.json"},"findings":[],"vulnerabilities":"skipped"}`)
	keyEnv := map[string]string{"INPUT_KEY": key, "INPUT_KEY-PASSWORD": "right-pw"}
	auth := []string{"--registry-username", "ci", "--registry-password", "ci-pass"}
	keyArgs := append([]string{"--image-ref", ref, "--signing", "key", "--tlog-upload=false"}, auth...)
	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		input string // named in the message
		want  string
	}{
		{"tag instead of digest", keyEnv, append([]string{"--image-ref", reg.Ref("app") + ":v1", "--signing", "key", "--tlog-upload=false"}, auth...), "image-ref", "by digest"},
		{"wrong key password", map[string]string{"INPUT_KEY": key, "INPUT_KEY-PASSWORD": "wrong-pw"}, keyArgs, "key-password", "does not decrypt"},
		{"not a cosign key", map[string]string{"INPUT_KEY": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "INPUT_KEY-PASSWORD": "x"}, keyArgs, "key", "not a cosign encrypted private key"},
		{"key mode without key", nil, keyArgs, "key", "required"},
		{"keyless without OIDC token", nil, append([]string{"--image-ref", ref}, auth...), "signing", "id-token: write"},
		{"keyless without tlog", nil, append([]string{"--image-ref", ref, "--tlog-upload=false"}, auth...), "tlog-upload", "keyless"},
		{"unknown attestation", keyEnv, append(keyArgs, "--attestations", "signature,sbom-ish"), "attestations", "sbom-ish"},
		{"sbom without file", keyEnv, append(keyArgs, "--attestations", "sbom"), "sbom-file", "required"},
		{"missing sbom file", keyEnv, append(keyArgs, "--attestations", "sbom", "--sbom-file", filepath.Join(dir, "nope.json")), "sbom-file", "no such file"},
		{"syft-json sbom", keyEnv, append(keyArgs, "--attestations", "sbom", "--sbom-file", syft), "sbom-file", "neither SPDX"},
		{"platform placeholder on a single image", keyEnv, append(keyArgs, "--attestations", "sbom", "--sbom-file", filepath.Join(dir, "sbom-{platform}.json")), "sbom-file", "single image"},
		{"vulnerabilities without report", keyEnv, append(keyArgs, "--attestations", "vulnerabilities"), "scan-report", "required"},
		{"errored scan", keyEnv, append(keyArgs, "--attestations", "vulnerabilities", "--scan-report", errored), "scan-report", `status "error"`},
		{"report of another action", keyEnv, append(keyArgs, "--attestations", "vulnerabilities", "--scan-report", notScan), "scan-report", "not of the scan action"},
		{"scan without vulnerabilities", keyEnv, append(keyArgs, "--attestations", "vulnerabilities", "--scan-report", noVulns), "scan-report", "no vulnerability scan"},
		{"provenance outside Actions", keyEnv, append(keyArgs, "--attestations", "provenance"), "attestations", "GITHUB_REPOSITORY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runAttest(t, tc.env, tc.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.code, r)
			}
			if !contains(r.stderr, tc.input, tc.want) {
				t.Errorf("message does not name %q with %q:\n%s", tc.input, tc.want, r.stderr)
			}
			if log := unmasked(r.stdout + r.stderr); strings.Contains(log, "right-pw") || strings.Contains(log, "wrong-pw") {
				t.Errorf("a password reached the log:\n%s", r)
			}
		})
	}
	// Nothing was attached by any of them.
	if got := bundleCount(t, reg, ref); got != 0 {
		t.Errorf("%d bundles attached by runs that failed on input", got)
	}
}

// An unreachable Fulcio, Rekor or registry is exit 3 after the bounded
// retries, quickly.
func TestUnreachable(t *testing.T) {
	ss := attesttest.Start(t)
	reg := testenv.StartRegistry(t, "ci", "ci-pass")
	digest := testenv.PushRandomImage(t, reg, "app:v1")
	ref := reg.Ref("app") + "@" + digest.String()
	auth := []string{"--registry-username", "ci", "--registry-password", "ci-pass"}
	keyEnv := merge(githubEnv, map[string]string{"INPUT_KEY": encryptedKey(t, "pw"), "INPUT_KEY-PASSWORD": "pw"})
	gone := closedURL(t)
	var busyHits atomic.Int32
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		busyHits.Add(1)
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	t.Cleanup(busy.Close)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"fulcio", merge(githubEnv, ss.Env()), append([]string{"--image-ref", ref, "--fulcio-url", gone, "--rekor-url", ss.Rekor.URL}, auth...), "signing certificate"},
		{"fulcio answering 503", merge(githubEnv, ss.Env()), append([]string{"--image-ref", ref, "--fulcio-url", busy.URL, "--rekor-url", ss.Rekor.URL}, auth...), "503"},
		{"rekor answering 503", keyEnv, append([]string{"--image-ref", ref, "--signing", "key", "--rekor-url", busy.URL}, auth...), "503"},
		{"rekor", keyEnv, append([]string{"--image-ref", ref, "--signing", "key", "--rekor-url", gone}, auth...), "transparency log"},
		{"registry", keyEnv, append([]string{"--image-ref", strings.Replace(ref, reg.Host, strings.TrimPrefix(gone, "http://"), 1), "--signing", "key", "--tlog-upload=false"}, auth...), "fetching"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r attestRun
			took := testenv.Within(t, 30*time.Second, func() { r = runAttest(t, tc.env, tc.args...) })
			if r.code != 3 {
				t.Fatalf("exit %d, want 3\n%s", r.code, r)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("message lacks %q:\n%s", tc.want, r.stderr)
			}
			if !strings.Contains(r.stderr, "gave up after 2 attempts") {
				t.Errorf("not retried to the bound:\n%s", r.stderr)
			}
			t.Logf("exit 3 after %s", took)
		})
	}
	if got := bundleCount(t, reg, ref); got != 0 {
		t.Errorf("%d bundles attached although signing failed", got)
	}
	if got := busyHits.Load(); got != 4 {
		t.Errorf("the overloaded services got %d requests, want 2 tries each", got)
	}
}

func bundleCount(t *testing.T, reg *testenv.Registry, ref string) int {
	t.Helper()
	d := mustDigest(t, ref)
	n := 0
	for _, bs := range bundlesOf(t, reg, d) {
		n += len(bs)
	}
	return n
}
