package attest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gitops-actions/gitops-actions/internal/attest/attesttest"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// storedBundle is one bundle found among an image's referrers.
type storedBundle struct {
	Manifest v1.Manifest
	Raw      []byte
}

// bundlesOf reads every Sigstore bundle referring to digest the way cosign
// v3 does: the referrers (API or tag fallback), each with one bundle layer.
func bundlesOf(t *testing.T, reg *testenv.Registry, d name.Digest) map[string][]storedBundle {
	t.Helper()
	idx, err := remote.Referrers(d, reg.Options()...)
	if err != nil {
		t.Fatalf("referrers of %s: %v", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]storedBundle{}
	for _, desc := range im.Manifests {
		if desc.ArtifactType != BundleMediaType {
			continue
		}
		img, err := remote.Image(d.Context().Digest(desc.Digest.String()), reg.Options()...)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("bundle referrer %s: %d layers, %v", desc.Digest, len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		pt := m.Annotations[AnnotationPredicateType]
		out[pt] = append(out[pt], storedBundle{Manifest: *m, Raw: raw})
	}
	return out
}

func parseBundle(t *testing.T, raw []byte) *sgbundle.Bundle {
	t.Helper()
	pb := &protobundle.Bundle{}
	if err := protojson.Unmarshal(raw, pb); err != nil {
		t.Fatal(err)
	}
	b, err := sgbundle.NewBundle(pb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifyBundle checks raw with sigstore-go against the trusted root, an
// identity and the digest, and returns the in-toto statement.
func verifyBundle(tr root.TrustedMaterial, raw []byte, issuer, sanRegexp string, digest v1.Hash) (string, error) {
	pb := &protobundle.Bundle{}
	if err := protojson.Unmarshal(raw, pb); err != nil {
		return "", err
	}
	b, err := sgbundle.NewBundle(pb)
	if err != nil {
		return "", err
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	if err != nil {
		return "", err
	}
	id, err := verify.NewShortCertificateIdentity(issuer, "", "", sanRegexp)
	if err != nil {
		return "", err
	}
	h, err := hex.DecodeString(digest.Hex)
	if err != nil {
		return "", err
	}
	res, err := v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", h), verify.WithCertificateIdentity(id)))
	if err != nil {
		return "", err
	}
	st, err := protojson.Marshal(res.Statement)
	if err != nil {
		return "", err
	}
	// protojson varies its spacing on purpose: compact it to compare.
	var c bytes.Buffer
	err = json.Compact(&c, st)
	return c.String(), err
}

// Keyless from end to end: the job's OIDC token → a Fulcio certificate →
// a Rekor entry per bundle → bundles on the index and on each platform,
// which sigstore-go accepts for the reusable workflow's identity and
// rejects for another identity, another issuer, another digest and a
// changed predicate.
func TestKeylessEndToEnd(t *testing.T) {
	ss := attesttest.Start(t)
	reg := testenv.StartRegistry(t, "ci", "ci-pass")
	idxDigest := testenv.PushRandomIndex(t, reg, "app:v1", "linux/amd64", "linux/arm64")
	ref := reg.Ref("app") + "@" + idxDigest.String()
	dir := t.TempDir()
	writeFile(t, dir, "sbom-linux-amd64.json", spdxSBOM("amd64-only-pkg"))
	writeFile(t, dir, "sbom-linux-arm64.json", spdxSBOM("arm64-only-pkg"))
	report := writeFile(t, dir, "scan.json", scanReportJSON(true))

	r := runAttest(t, merge(githubEnv, ss.Env()), "--image-ref", ref,
		"--attestations", "signature,provenance,sbom,vulnerabilities",
		"--sbom-file", filepath.Join(dir, "sbom-{platform}.json"), "--scan-report", report,
		"--fulcio-url", ss.Fulcio.URL, "--rekor-url", ss.Rekor.URL,
		"--registry-username", "ci", "--registry-password", "ci-pass")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r)
	}
	if r.outputs["identity"] != attesttest.Identity {
		t.Errorf("identity output %q, want %q", r.outputs["identity"], attesttest.Identity)
	}
	if log := unmasked(r.stdout + r.stderr); strings.Contains(log, ss.Token) || strings.Contains(log, ss.RequestToken) {
		t.Errorf("an OIDC token reached the log:\n%s", r)
	}
	subjects := strings.Split(r.outputs["subjects"], "\n")
	if len(subjects) != 3 {
		t.Fatalf("subjects %q: want the index and two platforms", r.outputs["subjects"])
	}
	// 3 common bundles on each of 3 manifests, plus one SBOM per platform.
	if n := len(r.pushed(t)); n != 11 {
		t.Errorf("pushed %d bundles, want 11", n)
	}
	if got := ss.FulcioCalls.Load(); got != 1 {
		t.Errorf("Fulcio asked %d times; one certificate serves the run", got)
	}
	if got := ss.RekorCalls.Load(); got != 11 {
		t.Errorf("Rekor got %d entries, want one per bundle (11)", got)
	}

	tr := ss.TrustedRoot(t)
	idRE := "^" + strings.ReplaceAll(attesttest.Identity, ".", `\.`) + "$"
	var platformDigests []v1.Hash
	for i, s := range subjects {
		d, err := name.NewDigest(s)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := v1.NewHash(d.DigestStr())
		if i > 0 {
			platformDigests = append(platformDigests, h)
		}
		bundles := bundlesOf(t, reg, d)
		for _, pt := range []string{PredicateSignature, PredicateSLSA1, PredicateVuln} {
			if len(bundles[pt]) != 1 {
				t.Fatalf("%s: %d bundles of %s, want 1", s, len(bundles[pt]), pt)
			}
		}
		for pt, bs := range bundles {
			b := bs[0]
			if b.Manifest.Layers[0].MediaType != BundleMediaType || b.Manifest.Annotations[AnnotationContent] != "dsse-envelope" || string(b.Manifest.Config.MediaType) != "application/vnd.oci.empty.v1+json" {
				t.Errorf("%s %s: manifest not in cosign's layout: %+v", s, pt, b.Manifest)
			}
			st, err := verifyBundle(tr, b.Raw, attesttest.Issuer, idRE, h)
			if err != nil {
				t.Errorf("%s %s: sigstore-go rejects the bundle: %v", s, pt, err)
				continue
			}
			if !strings.Contains(st, `"predicateType":"`+pt+`"`) {
				t.Errorf("%s: verified statement is not of %s: %s", s, pt, st)
			}
			if pt == PredicateSLSA1 && !contains(st, `"id":"`+attesttest.Identity+`"`, `"gitCommit":"`+githubEnv["GITHUB_SHA"]+`"`, `actions/runs/4242/attempts/1`) {
				t.Errorf("provenance lacks the builder, commit or run: %s", st)
			}
			if pt == PredicateVuln && !contains(st, `"passed":true`, `"critical":0`, `"high":1`, `2026-11-30T06:00:00Z`) {
				t.Errorf("vuln predicate lacks the gate, counts or DB time: %s", st)
			}
		}
		// Each platform has its own SBOM, the index none.
		sboms := bundles[PredicateSPDX]
		switch i {
		case 0:
			if len(sboms) != 0 {
				t.Errorf("the index got %d SBOMs; each platform has its own", len(sboms))
			}
		default:
			want := []string{"", "amd64-only-pkg", "arm64-only-pkg"}[i]
			if len(sboms) != 1 {
				t.Fatalf("%s: %d SBOM bundles", s, len(sboms))
			}
			st, err := verifyBundle(tr, sboms[0].Raw, attesttest.Issuer, idRE, h)
			if err != nil || !strings.Contains(st, want) {
				t.Errorf("%s: SBOM bundle (%v) lacks %s: %s", s, err, want, st)
			}
		}
	}

	// What a verifier must refuse.
	amd64, err := name.NewDigest(subjects[1])
	if err != nil {
		t.Fatal(err)
	}
	bundles := bundlesOf(t, reg, amd64)
	raw := bundles[PredicateSLSA1][0].Raw
	if _, err := verifyBundle(tr, raw, attesttest.Issuer, `^https://github\.com/evil/`, platformDigests[0]); err == nil {
		t.Error("accepted a wrong identity regexp")
	}
	if _, err := verifyBundle(tr, raw, "https://accounts.google.com", idRE, platformDigests[0]); err == nil {
		t.Error("accepted a wrong issuer")
	}
	if _, err := verifyBundle(tr, raw, attesttest.Issuer, idRE, platformDigests[1]); err == nil {
		t.Error("accepted the amd64 bundle for the arm64 digest")
	}
	if _, err := verifyBundle(tr, raw, attesttest.Issuer, idRE, idxDigest); err == nil {
		t.Error("accepted a platform's bundle for the index digest")
	}
	if _, err := verifyBundle(tr, tamper(t, raw), attesttest.Issuer, idRE, platformDigests[0]); err == nil {
		t.Error("accepted a bundle whose predicate was changed")
	}
	if _, err := verifyBundle(otherRoot(t), raw, attesttest.Issuer, idRE, platformDigests[0]); err == nil {
		t.Error("accepted a bundle under another instance's trusted root")
	}

	// cosign v3.1.3 accepts the keyless bundles too, given the instance's
	// trusted root (the loopback Fulcio has no CT log: SCTs are not asked).
	cosign := testenv.CLI(t, testenv.CosignModule, testenv.CosignVersion)
	trJSON, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	trFile := writeFile(t, dir, "trusted_root.json", string(trJSON))
	cfg := dockerConfig(t, reg.Host, "ci", "ci-pass")
	flags := func(identity string) []string {
		return []string{"--trusted-root", trFile, "--certificate-identity", identity, "--certificate-oidc-issuer", attesttest.Issuer,
			"--insecure-ignore-sct", "--allow-http-registry", "--allow-insecure-registry"}
	}
	for _, s := range subjects {
		if out, err := runCosign(t, cosign, cfg, append(append([]string{"verify"}, flags(attesttest.Identity)...), s)...); err != nil {
			t.Errorf("cosign verify (keyless) %s: %v\n%s", s, err, out)
		}
		if out, err := runCosign(t, cosign, cfg, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, flags(attesttest.Identity)...), s)...); err != nil {
			t.Errorf("cosign verify-attestation (keyless) %s: %v\n%s", s, err, out)
		}
	}
	if out, err := runCosign(t, cosign, cfg, append(append([]string{"verify"}, flags("https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main")...), subjects[0])...); err == nil {
		t.Errorf("cosign verify accepted another workflow identity:\n%s", out)
	}
}

// tamper rewrites the builder id inside the bundle's DSSE payload.
func tamper(t *testing.T, raw []byte) []byte {
	t.Helper()
	b := parseBundle(t, raw)
	env := b.GetDsseEnvelope()
	changed := strings.Replace(string(env.Payload), "gitops-code.yml", "gitops-evil.yml", 1)
	if changed == string(env.Payload) {
		t.Fatal("nothing to tamper with")
	}
	env.Payload = []byte(changed)
	out, err := protojson.Marshal(b.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// otherRoot is a trusted root of a different instance.
func otherRoot(t *testing.T) root.TrustedMaterial {
	return attesttest.Start(t).TrustedRoot(t)
}

func mustDigest(t *testing.T, ref string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
