package verify_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/attest"
	"github.com/gitops-actions/gitops-actions/internal/attest/attesttest"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/transport"
	"github.com/gitops-actions/gitops-actions/internal/verify"
)

var all = []string{verify.KindSignature, verify.KindProvenance, verify.KindSBOM, verify.KindVulnerabilities}

func tightCtx() context.Context {
	return transport.WithOptions(context.Background(), transport.Tight(2e9, 2))
}

func TestVerifyKeyMode(t *testing.T) {
	priv, pub := keyPair(t, "pw")
	_, otherPub := keyPair(t, "pw2")
	for _, reg := range testenv.Registries(t, "ci", "ci-pass") {
		t.Run(reg.Kind, func(t *testing.T) {
			s := signer{reg: reg, env: map[string]string{"INPUT_KEY": priv, "INPUT_KEY-PASSWORD": "pw"}, args: []string{"--signing", "key", "--tlog-upload=false"}}
			good := s.image(t, "good", true)
			failed := s.image(t, "failed", false)
			unsigned := mustDigest(t, reg.Ref("unsigned")+"@"+testenv.PushRandomImage(t, reg, "unsigned:v1").String())

			p := policy(t, verify.Inputs{Require: all, Key: pub})
			r := check(t, reg, good, p)
			if !r.Verified {
				t.Fatalf("good image not verified: %v", r.Failures())
			}
			vuln := r.Proofs[3]
			if vuln.Kind != verify.KindVulnerabilities || vuln.Counts["high"] != 1 || vuln.Counts["critical"] != 0 || vuln.DBTime != "2026-11-30T06:00:00Z" || vuln.ScanTime == "" {
				t.Errorf("vulnerability proof lacks counts or times: %+v", vuln)
			}
			if prov := r.Proofs[1]; prov.Workflow != "https://github.com/acme/api/.github/workflows/ci.yml@refs/heads/main" || prov.Commit != githubEnv["GITHUB_SHA"] {
				t.Errorf("provenance proof lacks the builder or commit: %+v", prov)
			}

			if r := check(t, reg, unsigned, p); r.Verified || !strings.Contains(r.Proofs[0].Reason, "no Sigstore bundles") {
				t.Errorf("unsigned image: verified %v, %v", r.Verified, r.Failures())
			}
			if r := check(t, reg, good, policy(t, verify.Inputs{Require: all, Key: otherPub})); r.Verified || len(r.Failures()) != 4 {
				t.Errorf("another key: verified %v, failures %v", r.Verified, r.Failures())
			}
			r = check(t, reg, failed, p)
			if r.Verified || len(r.Failures()) != 1 || !strings.Contains(r.Failures()[0], "vulnerabilities: the newest vulnerability scan") || !strings.Contains(r.Failures()[0], "gate failed") {
				t.Errorf("failed gate: verified %v, failures %v", r.Verified, r.Failures())
			}
			// Without the vulnerabilities proof required, the same image passes.
			if r := check(t, reg, failed, policy(t, verify.Inputs{Require: []string{"signature", "provenance"}, Key: pub})); !r.Verified {
				t.Errorf("signature and provenance of the failed-gate image: %v", r.Failures())
			}

			// A good image's bundles copied onto another digest do not count.
			other := mustDigest(t, reg.Ref("copy")+"@"+testenv.PushRandomImage(t, reg, "copy:v1").String())
			copyBundles(t, reg, good, other, nil)
			if r := check(t, reg, other, p); r.Verified || len(r.Failures()) != 4 || !strings.Contains(r.Failures()[0], "rejected") {
				t.Errorf("bundles of another digest: verified %v, %v", r.Verified, r.Failures())
			}
			// A changed predicate does not verify.
			// The same digest in another repository, with the good bundles'
			// predicates changed.
			same := copyImage(t, reg, good, "tampered")
			copyBundles(t, reg, good, same, func(raw []byte) []byte { return tamper(t, raw) })
			if r := check(t, reg, same, p); r.Verified || len(r.Failures()) != 4 {
				t.Errorf("tampered statements: verified %v, %v", r.Verified, r.Failures())
			}
		})
	}
}

func TestVerifyKeyless(t *testing.T) {
	ss := attesttest.Start(t)
	reg := testenv.StartRegistry(t, "ci", "ci-pass")
	s := signer{reg: reg, env: ss.Env(), args: []string{"--fulcio-url", ss.Fulcio.URL, "--rekor-url", ss.Rekor.URL}}
	good := s.image(t, "app", true)
	root := ss.TrustedRootFile(t)

	for _, tc := range []struct {
		name string
		in   verify.Inputs
		ok   bool
	}{
		{"identity", verify.Inputs{CertificateIdentity: attesttest.Identity, CertificateOIDCIssuer: attesttest.Issuer}, true},
		{"identity regexp", verify.Inputs{CertificateIdentityRegexp: `^https://github\.com/acme/platform/\.github/workflows/gitops-code\.yml@refs/tags/v`, CertificateOIDCIssuer: attesttest.Issuer}, true},
		{"other identity", verify.Inputs{CertificateIdentity: "https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main", CertificateOIDCIssuer: attesttest.Issuer}, false},
		{"other identity regexp", verify.Inputs{CertificateIdentityRegexp: `^https://github\.com/evil/`, CertificateOIDCIssuer: attesttest.Issuer}, false},
		{"wrong issuer", verify.Inputs{CertificateIdentity: attesttest.Identity, CertificateOIDCIssuer: "https://accounts.google.com"}, false},
		{"other instance", verify.Inputs{CertificateIdentity: attesttest.Identity, CertificateOIDCIssuer: attesttest.Issuer, TrustedRoot: attesttest.Start(t).TrustedRootFile(t)}, false},
		// The reusable workflow's identity is every caller's: the signing
		// repository tells whose build it was.
		{"signing repository", verify.Inputs{CertificateIdentity: attesttest.Identity, CertificateOIDCIssuer: attesttest.Issuer, CertificateRepository: attesttest.Repository}, true},
		{"signing repository URL", verify.Inputs{CertificateIdentity: attesttest.Identity, CertificateOIDCIssuer: attesttest.Issuer, CertificateRepository: "https://github.com/" + attesttest.Repository}, true},
		{"other signing repository", verify.Inputs{CertificateIdentity: attesttest.Identity, CertificateOIDCIssuer: attesttest.Issuer, CertificateRepository: "evil/api"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Require = all
			if tc.in.TrustedRoot == "" {
				tc.in.TrustedRoot = root
			}
			r := check(t, reg, good, policy(t, tc.in))
			if r.Verified != tc.ok {
				t.Fatalf("verified %v, want %v: %v", r.Verified, tc.ok, r.Failures())
			}
			if tc.ok && (r.Proofs[0].Identity != attesttest.Identity || r.Proofs[0].Issuer != attesttest.Issuer) {
				t.Errorf("signature proof names %q from %q", r.Proofs[0].Identity, r.Proofs[0].Issuer)
			}
			if !tc.ok && len(r.Failures()) != 4 {
				t.Errorf("want all four proofs refused: %v", r.Failures())
			}
		})
	}
}

// What the cosign CLI writes with a key verifies too: a signature and a
// SLSA provenance attestation, on both registries.
func TestVerifyCosignCLI(t *testing.T) {
	cosign := testenv.CLI(t, testenv.CosignModule, testenv.CosignVersion)
	dir := t.TempDir()
	run := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec(cosign, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), append(env, "SIGSTORE_NO_CACHE=true", "TUF_ROOT="+t.TempDir())...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cosign %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run([]string{"COSIGN_PASSWORD=pw"}, "generate-key-pair")
	pub := filepath.Join(dir, "cosign.pub")
	_, otherPub := keyPair(t, "x")
	pred := filepath.Join(dir, "provenance.json")
	os.WriteFile(pred, []byte(`{"buildDefinition":{"buildType":"https://example.com/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}`), 0o600)
	for _, reg := range testenv.Registries(t, "ci", "ci-pass") {
		t.Run(reg.Kind, func(t *testing.T) {
			cfg := dockerConfig(t, reg)
			ref := mustDigest(t, reg.Ref("app")+"@"+testenv.PushRandomImage(t, reg, "app:v1").String())
			env := []string{"COSIGN_PASSWORD=pw", "DOCKER_CONFIG=" + cfg}
			flags := []string{"--key", filepath.Join(dir, "cosign.key"), "--tlog-upload=false", "--use-signing-config=false", "--allow-http-registry", "--allow-insecure-registry", "-y"}
			run(env, append(append([]string{"sign"}, flags...), ref.String())...)
			run(env, append(append([]string{"attest", "--type", "slsaprovenance1", "--predicate", pred}, flags...), ref.String())...)

			p := policy(t, verify.Inputs{Require: []string{"signature", "provenance"}, Key: pub})
			r := check(t, reg, ref, p)
			if !r.Verified {
				t.Fatalf("cosign's bundles not verified: %v", r.Failures())
			}
			if r.Proofs[1].Workflow != "https://example.com/builder" {
				t.Errorf("provenance builder %q", r.Proofs[1].Workflow)
			}
			if r := check(t, reg, ref, policy(t, verify.Inputs{Require: []string{"signature"}, Key: otherPub})); r.Verified {
				t.Error("cosign's signature verified under another key")
			}
			if r := check(t, reg, ref, policy(t, verify.Inputs{Require: []string{"vulnerabilities"}, Key: pub})); r.Verified {
				t.Error("a vulnerabilities proof was found where cosign wrote none")
			}
		})
	}
}

func TestNewPolicyBadInputs(t *testing.T) {
	_, pub := keyPair(t, "pw")
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte(`{"mediaType":"nope"`), 0o600)
	id := func(in verify.Inputs) verify.Inputs {
		in.CertificateIdentity, in.CertificateOIDCIssuer = attesttest.Identity, attesttest.Issuer
		return in
	}
	for _, tc := range []struct {
		name  string
		in    verify.Inputs
		input string
	}{
		{"unknown kind", verify.Inputs{Require: []string{"signatures"}, Key: pub}, "verify"},
		{"nobody trusted", verify.Inputs{Require: all}, "verify"},
		{"key and identity", id(verify.Inputs{Require: all, Key: pub}), "key"},
		{"bad key", verify.Inputs{Require: all, Key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, "key"},
		{"missing key file", verify.Inputs{Require: all, Key: filepath.Join(dir, "none.pub")}, "key"},
		{"keyless without trusted root", id(verify.Inputs{Require: all}), "trusted-root"},
		{"unreadable trusted root", id(verify.Inputs{Require: all, TrustedRoot: filepath.Join(dir, "none.json")}), "trusted-root"},
		{"damaged trusted root", id(verify.Inputs{Require: all, TrustedRoot: junk}), "trusted-root"},
		{"no issuer", verify.Inputs{Require: all, CertificateIdentity: attesttest.Identity}, "certificate-oidc-issuer"},
		{"bad signing repository", id(verify.Inputs{Require: all, CertificateRepository: "acme", TrustedRoot: attesttest.Start(t).TrustedRootFile(t)}), "certificate-repository"},
		{"bad regexp", verify.Inputs{Require: all, CertificateIdentityRegexp: "(", CertificateOIDCIssuer: attesttest.Issuer, TrustedRoot: attesttest.Start(t).TrustedRootFile(t)}, "certificate-identity-regexp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.NewPolicy(tc.in)
			if action.CodeOf(err) != 2 || !strings.Contains(err.Error(), tc.input) {
				t.Errorf("got %v (exit %d), want a usage error naming %s", err, action.CodeOf(err), tc.input)
			}
		})
	}
}

func TestVerifyUnreachable(t *testing.T) {
	_, pub := keyPair(t, "pw")
	p := policy(t, verify.Inputs{Require: all, Key: pub})
	reg := testenv.StartRegistry(t, "ci", "ci-pass")
	ref := mustDigest(t, reg.Ref("app")+"@"+testenv.PushRandomImage(t, reg, "app:v1").String())
	closed := mustDigest(t, "127.0.0.1:1/app@"+ref.DigestStr())
	_, err := verify.Verify(tightCtx(), closed, p, transport.For(tightCtx()).Remote()...)
	if action.CodeOf(err) != 3 {
		t.Errorf("unreachable registry: %v (exit %d), want exit 3", err, action.CodeOf(err))
	}
}

// helpers

var githubEnv = map[string]string{
	"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/api", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
	"GITHUB_REF": "refs/heads/main", "GITHUB_WORKFLOW_REF": "acme/api/.github/workflows/ci.yml@refs/heads/main",
	"GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_SERVER_URL": "https://github.com",
}

type signer struct {
	reg  *testenv.Registry
	env  map[string]string
	args []string
}

// image pushes a random image and attests it with every proof; the scan
// gate passed or not.
func (s signer) image(t *testing.T, repo string, passed bool) name.Digest {
	t.Helper()
	d := mustDigest(t, s.reg.Ref(repo)+"@"+testenv.PushRandomImage(t, s.reg, repo+":v1").String())
	s.attest(t, d, passed)
	return d
}

func (s signer) attest(t *testing.T, d name.Digest, passed bool) {
	t.Helper()
	dir := t.TempDir()
	sbom := write(t, dir, "sbom.json", `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"app","documentNamespace":"https://example.com/app","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: scan"]},"packages":[]}`)
	report := write(t, dir, "scan.json", scanReport(passed))
	env := map[string]string{"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary.md")}
	for _, m := range []map[string]string{githubEnv, s.env} {
		for k, v := range m {
			env[k] = v
		}
	}
	args := append([]string{"attest", "--image-ref", d.String(), "--attestations", "signature,provenance,sbom,vulnerabilities",
		"--sbom-file", sbom, "--scan-report", report, "--registry-username", s.reg.Username, "--registry-password", s.reg.Password}, s.args...)
	var out bytes.Buffer
	if code := attest.Main(tightCtx(), args, func(k string) string { return env[k] }, &out, &out); code != 0 {
		t.Fatalf("attest exit %d\n%s", code, out.String())
	}
}

func scanReport(passed bool) string {
	status, crit, p := "passed", "0", "true"
	if !passed {
		status, crit, p = "failed", "1", "false"
	}
	return `{"action":"scan","version":"v1.0.0","status":"` + status + `",
"outputs":{"critical":"` + crit + `","high":"1","medium":"0","low":"0","unknown":"0","fixable":"1","passed":"` + p + `"},
"db":{"updated-at":"2026-11-30T06:00:00Z","source":"ghcr.io/aquasecurity/trivy-db:2"},
"vulnerabilities":[{"id":"CVE-2026-0001","severity":"HIGH","package":"openssl"}]}`
}

func policy(t *testing.T, in verify.Inputs) *verify.Policy {
	t.Helper()
	p, err := verify.NewPolicy(in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func check(t *testing.T, reg *testenv.Registry, d name.Digest, p *verify.Policy) verify.Result {
	t.Helper()
	r, err := verify.Verify(tightCtx(), d, p, reg.Options()...)
	if err != nil {
		t.Fatalf("verify %s: %v", d, err)
	}
	if len(r.Proofs) != len(p.Require) {
		t.Fatalf("%d proofs for %d required", len(r.Proofs), len(p.Require))
	}
	return r
}

// keyPair is a cosign-format encrypted private key and its PEM public key.
func keyPair(t *testing.T, password string) (priv, pub string) {
	t.Helper()
	priv, pub, err := attest.GenerateKey(password)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func mustDigest(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func write(t *testing.T, dir, file, content string) string {
	t.Helper()
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
