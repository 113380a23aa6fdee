package attest

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/attest/attesttest"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// cosignKeyPair makes a key pair with the real cosign CLI, so the key
// format we decrypt is the one cosign writes.
func cosignKeyPair(t *testing.T, cosign, password string) (key, pub string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(cosign, "generate-key-pair")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD="+password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	k, err := os.ReadFile(filepath.Join(dir, "cosign.key"))
	if err != nil {
		t.Fatal(err)
	}
	return string(k), filepath.Join(dir, "cosign.pub")
}

// runCosign runs cosign against the test registry with its credentials.
func runCosign(t *testing.T, cosign, dockerCfg string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(cosign, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dockerCfg, "SIGSTORE_NO_CACHE=true", "TUF_ROOT="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// What cosign v3.1.3 itself accepts is the contract: it verifies, on both
// registries (one with the referrers API, one with only the
// sha256-<digest> tag), the key-based signature and every attestation type
// the action wrote, and finds nothing under a key that did not sign.
func TestCosignVerifiesWhatWeWrite(t *testing.T) {
	cosign := testenv.CLI(t, testenv.CosignModule, testenv.CosignVersion)
	key, pub := cosignKeyPair(t, cosign, "s3cret-pw")
	_, otherPub := cosignKeyPair(t, cosign, "other-pw")
	for _, reg := range testenv.Registries(t, "ci", "ci-pass") {
		t.Run(reg.Kind, func(t *testing.T) {
			cfg := dockerConfig(t, reg.Host, reg.Username, reg.Password)
			dir := t.TempDir()
			spdx := writeFile(t, dir, "sbom.spdx.json", spdxSBOM("left-pad"))
			cdx := writeFile(t, dir, "sbom.cdx.json", cycloneDXSBOM("right-pad"))
			report := writeFile(t, dir, "scan.json", scanReportJSON(true))
			digest := testenv.PushRandomImage(t, reg, "app:v1")
			ref := reg.Ref("app") + "@" + digest.String()
			env := merge(githubEnv, map[string]string{"INPUT_KEY": key, "INPUT_KEY-PASSWORD": "s3cret-pw"})
			common := []string{"--image-ref", ref, "--signing", "key", "--tlog-upload=false",
				"--registry-username", reg.Username, "--registry-password", reg.Password}
			r := runAttest(t, env, append(common, "--attestations", "signature,provenance,sbom,vulnerabilities",
				"--sbom-file", spdx, "--scan-report", report)...)
			if r.code != 0 {
				t.Fatalf("attest exit %d\n%s", r.code, r)
			}
			if got := len(r.pushed(t)); got != 4 {
				t.Fatalf("pushed %d bundles, want 4: %s", got, r.outputs["attestations"])
			}
			// A second run adds a CycloneDX SBOM beside the SPDX one.
			if r := runAttest(t, env, append(common, "--attestations", "sbom", "--sbom-file", cdx)...); r.code != 0 {
				t.Fatalf("attest (cyclonedx) exit %d\n%s", r.code, r)
			}
			if log := unmasked(r.stdout + r.stderr); strings.Contains(log, "s3cret-pw") || strings.Contains(log, "PRIVATE KEY") {
				t.Errorf("the key or its password reached the log:\n%s", r)
			}

			flags := []string{"--key", pub, "--insecure-ignore-tlog=true", "--allow-http-registry", "--allow-insecure-registry"}
			out, err := runCosign(t, cosign, cfg, append(append([]string{"verify"}, flags...), ref)...)
			if err != nil {
				t.Fatalf("cosign verify: %v\n%s", err, out)
			}
			if !strings.Contains(out, digest.String()) {
				t.Errorf("cosign verify printed no claim for %s:\n%s", digest, out)
			}
			for typ, want := range map[string]string{
				"slsaprovenance1": `acme/api/.github/workflows/ci.yml@refs/heads/main`,
				"spdxjson":        `left-pad`,
				"cyclonedx":       `right-pad`,
				"vuln":            `CVE-2026-0001`,
			} {
				out, err := runCosign(t, cosign, cfg, append(append([]string{"verify-attestation", "--type", typ}, flags...), ref)...)
				if err != nil {
					t.Errorf("cosign verify-attestation --type %s: %v\n%s", typ, err, out)
					continue
				}
				if got := verifiedStatements(out); !strings.Contains(got, want) || !strings.Contains(got, digest.Hex) {
					t.Errorf("cosign verify-attestation --type %s: the verified statements lack %q or the digest:\n%s", typ, want, got)
				}
			}
			// Under another key nothing verifies.
			other := []string{"--key", otherPub, "--insecure-ignore-tlog=true", "--allow-http-registry", "--allow-insecure-registry"}
			if out, err := runCosign(t, cosign, cfg, append(append([]string{"verify"}, other...), ref)...); err == nil {
				t.Errorf("cosign verify accepted the signature under another key:\n%s", out)
			}
		})
	}
}

// verifiedStatements decodes the in-toto statements of the DSSE envelopes
// cosign verify-attestation prints, one JSON object a line.
func verifiedStatements(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		var env struct {
			Payload string `json:"payload"`
		}
		if json.Unmarshal([]byte(line), &env) != nil || env.Payload == "" {
			continue
		}
		if st, err := base64.StdEncoding.DecodeString(env.Payload); err == nil {
			b.Write(st)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// A key-signed bundle with its Rekor entry: cosign checks the entry
// against the instance's trusted root, without --insecure-ignore-tlog.
func TestCosignVerifiesKeyWithTransparencyLog(t *testing.T) {
	cosign := testenv.CLI(t, testenv.CosignModule, testenv.CosignVersion)
	key, pub := cosignKeyPair(t, cosign, "pw-2")
	ss := attesttest.Start(t)
	reg := testenv.StartRegistry(t, "ci", "ci-pass")
	digest := testenv.PushRandomImage(t, reg, "app:v1")
	ref := reg.Ref("app") + "@" + digest.String()
	r := runAttest(t, merge(githubEnv, map[string]string{"INPUT_KEY": key, "INPUT_KEY-PASSWORD": "pw-2"}),
		"--image-ref", ref, "--signing", "key", "--rekor-url", ss.Rekor.URL,
		"--registry-username", "ci", "--registry-password", "ci-pass")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r)
	}
	if got := ss.RekorCalls.Load(); got != 2 {
		t.Errorf("Rekor got %d entries, want 2 (signature, provenance)", got)
	}
	trJSON, err := ss.TrustedRoot(t).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	tr := writeFile(t, t.TempDir(), "trusted_root.json", string(trJSON))
	cfg := dockerConfig(t, reg.Host, "ci", "ci-pass")
	flags := []string{"--key", pub, "--trusted-root", tr, "--allow-http-registry", "--allow-insecure-registry"}
	if out, err := runCosign(t, cosign, cfg, append(append([]string{"verify"}, flags...), ref)...); err != nil {
		t.Errorf("cosign verify --key with the log: %v\n%s", err, out)
	}
	if out, err := runCosign(t, cosign, cfg, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, flags...), ref)...); err != nil {
		t.Errorf("cosign verify-attestation --key with the log: %v\n%s", err, out)
	}
	// Under another instance's log key the entries do not verify.
	otherJSON, err := attesttest.Start(t).TrustedRoot(t).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	other := writeFile(t, t.TempDir(), "trusted_root.json", string(otherJSON))
	out, err := runCosign(t, cosign, cfg, "verify", "--key", pub, "--trusted-root", other, "--allow-http-registry", "--allow-insecure-registry", ref)
	if err == nil || !strings.Contains(out, "log inclusion") {
		t.Errorf("cosign did not refuse the entries for the log key (err %v):\n%s", err, out)
	}
}
