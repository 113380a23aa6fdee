package verify

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/attest"
)

// BundleMediaType is the artifactType of a Sigstore bundle referrer.
const BundleMediaType = attest.BundleMediaType

// Limits on what an image's referrers may make us read.
const (
	maxBundles    = 64
	maxBundleSize = 16 << 20
)

// Proof is what was found for one required kind.
type Proof struct {
	Kind          string `json:"kind"`
	Verified      bool   `json:"verified"`
	Reason        string `json:"reason,omitempty"` // why not verified
	PredicateType string `json:"predicateType,omitempty"`
	Bundle        string `json:"bundle,omitempty"` // the referrer's digest
	Identity      string `json:"identity,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	Workflow      string `json:"workflow,omitempty"` // certificate build signer or provenance builder
	Commit        string `json:"commit,omitempty"`
	// Vulnerabilities only.
	ScanTime string         `json:"scanTime,omitempty"`
	DBTime   string         `json:"dbTime,omitempty"`
	Counts   map[string]int `json:"counts,omitempty"`
	Passed   *bool          `json:"passed,omitempty"`
}

// Result is the verification of one digest.
type Result struct {
	Image    string  `json:"image"`
	Verified bool    `json:"verified"`
	Trusted  string  `json:"trusted"` // whom the policy trusts
	Proofs   []Proof `json:"proofs"`
}

// Failures lists the proofs that did not verify, as "kind: reason".
func (r Result) Failures() []string {
	var out []string
	for _, p := range r.Proofs {
		if !p.Verified {
			out = append(out, p.Kind+": "+p.Reason)
		}
	}
	return out
}

// verified is one bundle that passed sigstore-go for the digest.
type verified struct {
	ref       string
	statement map[string]any
	predType  string
	res       *sgverify.VerificationResult
}

// Verify checks the bundles referring to ref against p. A registry that
// cannot be read is an outside error (exit 3); proofs that are missing or
// wrong are in the Result, which is then not Verified.
func Verify(ctx context.Context, ref name.Digest, p *Policy, opts ...remote.Option) (Result, error) {
	res := Result{Image: ref.String(), Trusted: p.Describe}
	digest, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return res, action.Usage("image", "%q: %v", ref.String(), err)
	}
	opts = append(opts, remote.WithContext(ctx))
	idx, err := remote.Referrers(ref, opts...)
	if err != nil {
		return res, action.External(fmt.Errorf("listing the referrers of %q: %w", ref.String(), err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return res, action.External(fmt.Errorf("reading the referrers of %q: %w", ref.String(), err))
	}
	var found []verified
	var rejected []string
	n := 0
	for _, desc := range im.Manifests {
		// A registry that lists the config's media type as artifactType
		// (go-containerregistry's own) shows cosign's bundles as the empty
		// config: those are read, and kept only if their layer is a bundle.
		guessed := desc.ArtifactType == emptyConfigMediaType
		if desc.ArtifactType != BundleMediaType && !guessed {
			continue
		}
		if n++; n > maxBundles {
			rejected = append(rejected, fmt.Sprintf("more than %d bundles: the rest were not read", maxBundles))
			break
		}
		bref := ref.Context().Digest(desc.Digest.String())
		raw, err := fetchBundle(bref, opts)
		if err != nil {
			var ext *action.ExitError
			if errors.As(err, &ext) {
				return res, err
			}
			if guessed {
				continue // another artifact with an empty config (still counted)
			}
			rejected = append(rejected, fmt.Sprintf("%s: %v", desc.Digest, err))
			continue
		}
		v, err := p.check(raw, digest)
		if err != nil {
			rejected = append(rejected, fmt.Sprintf("%s: %v", desc.Digest, err))
			continue
		}
		v.ref = desc.Digest.String()
		found = append(found, v)
	}
	res.Verified = true
	for _, kind := range p.Require {
		pr := proofOf(kind, found)
		if !pr.Verified {
			res.Verified = false
			if pr.Reason == "" {
				pr.Reason = "no bundle of " + strings.Join(predicateTypes(kind), " or ") + " verifies for " + p.Describe
				if len(rejected) > 0 {
					pr.Reason += " (rejected: " + strings.Join(rejected, "; ") + ")"
				} else if n == 0 {
					pr.Reason += " (the image has no Sigstore bundles)"
				}
			}
		}
		res.Proofs = append(res.Proofs, pr)
	}
	return res, nil
}

// fetchBundle reads the one bundle layer of a referrer manifest.
// emptyConfigMediaType is the OCI empty descriptor's media type, the
// config of cosign's bundle manifests.
const emptyConfigMediaType = "application/vnd.oci.empty.v1+json"

func fetchBundle(ref name.Digest, opts []remote.Option) ([]byte, error) {
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, action.External(fmt.Errorf("fetching bundle %q: %w", ref.String(), err))
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, action.External(fmt.Errorf("reading bundle %q: %w", ref.String(), err))
	}
	if len(layers) != 1 {
		return nil, fmt.Errorf("has %d layers, not one bundle", len(layers))
	}
	if mt, err := layers[0].MediaType(); err != nil || string(mt) != BundleMediaType {
		return nil, fmt.Errorf("layer is %q, not a Sigstore bundle", mt)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return nil, action.External(fmt.Errorf("fetching bundle %q: %w", ref.String(), err))
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxBundleSize+1))
	if err != nil {
		// A digest mismatch or a cut connection: the registry's fault.
		return nil, action.External(fmt.Errorf("reading bundle %q: %w", ref.String(), err))
	}
	if len(raw) > maxBundleSize {
		return nil, fmt.Errorf("bundle over %d bytes", maxBundleSize)
	}
	return raw, nil
}

// check verifies one bundle: its signature and log entry under the
// policy's trust, and an in-toto statement whose subject is digest.
func (p *Policy) check(raw []byte, digest v1.Hash) (verified, error) {
	pb := &protobundle.Bundle{}
	if err := protojson.Unmarshal(raw, pb); err != nil {
		return verified{}, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	b, err := sgbundle.NewBundle(pb)
	if err != nil {
		return verified{}, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	if b.GetDsseEnvelope() == nil {
		return verified{}, errors.New("holds no DSSE in-toto statement")
	}
	h, err := hexBytes(digest.Hex)
	if err != nil {
		return verified{}, err
	}
	var idOpt sgverify.PolicyOption
	if p.identity != nil {
		idOpt = sgverify.WithCertificateIdentity(*p.identity)
	} else {
		idOpt = sgverify.WithKey()
	}
	r, err := p.verifier.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest(digest.Algorithm, h), idOpt))
	if err != nil {
		return verified{}, err
	}
	if r.Statement == nil {
		return verified{}, errors.New("verified, but holds no in-toto statement")
	}
	js, err := protojson.Marshal(r.Statement)
	if err != nil {
		return verified{}, err
	}
	var st map[string]any
	if err := json.Unmarshal(js, &st); err != nil {
		return verified{}, err
	}
	return verified{statement: st, predType: r.Statement.GetPredicateType(), res: r}, nil
}

func predicateTypes(kind string) []string {
	switch kind {
	case KindSignature:
		return []string{attest.PredicateSignature}
	case KindProvenance:
		return []string{attest.PredicateSLSA1}
	case KindSBOM:
		return []string{attest.PredicateSPDX, attest.PredicateCycloneDX}
	case KindVulnerabilities:
		return []string{attest.PredicateVuln}
	}
	return nil
}

// proofOf picks the verified bundle that proves kind. For
// vulnerabilities it is the newest scan: an older pass does not hide a
// newer failure.
func proofOf(kind string, found []verified) Proof {
	pr := Proof{Kind: kind}
	var cands []verified
	for _, v := range found {
		for _, t := range predicateTypes(kind) {
			if v.predType == t {
				cands = append(cands, v)
			}
		}
	}
	if len(cands) == 0 {
		return pr
	}
	if kind == KindVulnerabilities {
		sort.SliceStable(cands, func(i, j int) bool { return scanTime(cands[i]) > scanTime(cands[j]) })
	}
	v := cands[0]
	pr.PredicateType, pr.Bundle = v.predType, v.ref
	if c := v.res.Signature; c != nil && c.Certificate != nil {
		pr.Identity, pr.Issuer = c.Certificate.SubjectAlternativeName, c.Certificate.Issuer
		pr.Workflow, pr.Commit = c.Certificate.BuildSignerURI, c.Certificate.SourceRepositoryDigest
	}
	pred, _ := v.statement["predicate"].(map[string]any)
	switch kind {
	case KindProvenance:
		if b := str(pred, "runDetails", "builder", "id"); b != "" && pr.Workflow == "" {
			pr.Workflow = b
		}
		if deps, ok := dig(pred, "buildDefinition", "resolvedDependencies").([]any); ok && len(deps) > 0 && pr.Commit == "" {
			pr.Commit = str(deps[0], "digest", "gitCommit")
		}
	case KindVulnerabilities:
		pr.ScanTime = scanTime(v)
		pr.DBTime = str(pred, "scanner", "db", "version")
		result, _ := dig(pred, "scanner", "result").(map[string]any)
		passed, ok := result["passed"].(bool)
		if !ok {
			pr.Reason = "the vulnerability attestation " + v.ref + " carries no gate result (scanner.result.passed)"
			return pr
		}
		pr.Passed = &passed
		if counts, ok := result["counts"].(map[string]any); ok {
			pr.Counts = map[string]int{}
			for k, n := range counts {
				if f, ok := n.(float64); ok {
					pr.Counts[k] = int(f)
				}
			}
		}
		if !passed {
			pr.Reason = fmt.Sprintf("the newest vulnerability scan (%s, bundle %s) says the gate failed", pr.ScanTime, v.ref)
			return pr
		}
	}
	pr.Verified = true
	return pr
}

func scanTime(v verified) string {
	return str(v.statement["predicate"], "metadata", "scanFinishedOn")
}

func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := dig(v, path...).(string)
	return s
}

func hexBytes(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("digest hex %q: %w", s, err)
	}
	return b, nil
}
