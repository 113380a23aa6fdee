package verify

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/attest"
)

// Proof kinds a policy can require: those the attest action writes.
const (
	KindSignature       = attest.KindSignature
	KindProvenance      = attest.KindProvenance
	KindSBOM            = attest.KindSBOM
	KindVulnerabilities = attest.KindVulnerabilities
)

// Kinds lists every proof kind in the order results are reported.
var Kinds = []string{KindSignature, KindProvenance, KindSBOM, KindVulnerabilities}

// Inputs is a policy as the action inputs spell it. Input names are the
// Inputs field tags; errors name them.
type Inputs struct {
	Require                   []string // verify
	CertificateIdentity       string   // certificate-identity
	CertificateIdentityRegexp string   // certificate-identity-regexp
	CertificateOIDCIssuer     string   // certificate-oidc-issuer
	// CertificateRepository is the repository whose workflow run must have
	// signed (owner/name, or its URL): a reusable workflow's identity is the
	// same for every repository that calls it, so the identity alone does
	// not say whose build it was.
	CertificateRepository string // certificate-repository
	Key                   string // key: a PEM public key, or a file holding one
	TrustedRoot           string // trusted-root: a Sigstore trusted_root.json file
}

// Enabled reports whether the inputs ask for any verification.
func (in Inputs) Enabled() bool { return len(in.Require) > 0 }

// Policy is a compiled Inputs: what to require and whom to trust.
type Policy struct {
	Require  []string
	verifier *sgverify.Verifier
	identity *sgverify.CertificateIdentity // nil in key mode
	// Describe says whom the policy trusts, for reports.
	Describe string
}

// NewPolicy checks in and loads its key or trusted root. Every problem is
// a usage error naming the input.
func NewPolicy(in Inputs) (*Policy, error) {
	p := &Policy{}
	for _, k := range in.Require {
		if !slices.Contains(Kinds, k) {
			return nil, action.Usage("verify", "%q is not one of %s", k, strings.Join(Kinds, ", "))
		}
		if !slices.Contains(p.Require, k) {
			p.Require = append(p.Require, k)
		}
	}
	if len(p.Require) == 0 {
		return nil, action.Usage("verify", "lists no proof to require")
	}
	keyless := in.CertificateIdentity != "" || in.CertificateIdentityRegexp != "" || in.CertificateOIDCIssuer != "" || in.CertificateRepository != ""
	switch {
	case in.Key != "" && keyless:
		return nil, action.Usage("key", "is set beside certificate-identity/certificate-oidc-issuer: choose a key or a keyless identity")
	case in.Key == "" && !keyless:
		return nil, action.Usage("verify", "is set but neither key nor certificate-identity/certificate-identity-regexp with certificate-oidc-issuer says whom to trust")
	}

	var tr *root.TrustedRoot
	if in.TrustedRoot != "" {
		raw, err := os.ReadFile(in.TrustedRoot)
		if err != nil {
			return nil, action.UsageErr("trusted-root", err)
		}
		if tr, err = root.NewTrustedRootFromJSON(raw); err != nil {
			return nil, action.Usage("trusted-root", "%q is not a Sigstore trusted root: %v", in.TrustedRoot, err)
		}
	}

	if in.Key != "" {
		v, pub, err := loadPublicKey(in.Key)
		if err != nil {
			return nil, err
		}
		key := root.NewExpiringKey(v, time.Time{}, time.Time{})
		keys := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
		var tm root.TrustedMaterial = keys
		opts := []sgverify.VerifierOption{sgverify.WithNoObserverTimestamps()}
		if tr != nil {
			// With a trusted root, a key signature must be in its log.
			tm = root.TrustedMaterialCollection{keys, tr}
			opts = []sgverify.VerifierOption{sgverify.WithTransparencyLog(1), sgverify.WithIntegratedTimestamps(1)}
		}
		if p.verifier, err = sgverify.NewVerifier(tm, opts...); err != nil {
			return nil, action.UsageErr("key", err)
		}
		p.Describe = "key sha256:" + fingerprint(pub)
		return p, nil
	}

	switch {
	case in.CertificateOIDCIssuer == "":
		return nil, action.Usage("certificate-oidc-issuer", "is required with certificate-identity or certificate-identity-regexp")
	case in.CertificateIdentity != "" && in.CertificateIdentityRegexp != "":
		return nil, action.Usage("certificate-identity-regexp", "is set beside certificate-identity: give one")
	case in.CertificateIdentity == "" && in.CertificateIdentityRegexp == "":
		return nil, action.Usage("certificate-identity", "is required with certificate-oidc-issuer (or certificate-identity-regexp)")
	case tr == nil:
		// The public-good root is not embedded: it rotates, and a stale
		// copy would fail later and less clearly than a missing input.
		return nil, action.Usage("trusted-root", "is required for keyless verification (the Sigstore trusted_root.json of the instance that issued the certificates)")
	}
	if in.CertificateIdentityRegexp != "" {
		if _, err := regexp.Compile(in.CertificateIdentityRegexp); err != nil {
			return nil, action.Usage("certificate-identity-regexp", "%q: %v", in.CertificateIdentityRegexp, err)
		}
	}
	id, err := sgverify.NewShortCertificateIdentity(in.CertificateOIDCIssuer, "", in.CertificateIdentity, in.CertificateIdentityRegexp)
	if err != nil {
		return nil, action.Usage("certificate-identity", "%v", err)
	}
	if in.CertificateRepository != "" {
		repo := in.CertificateRepository
		if !strings.Contains(repo, "://") {
			if strings.Count(repo, "/") != 1 || strings.HasPrefix(repo, "/") || strings.HasSuffix(repo, "/") {
				return nil, action.Usage("certificate-repository", "%q is not owner/name or a repository URL", repo)
			}
			repo = "https://github.com/" + repo
		}
		// Fulcio's Source Repository URI extension (1.3.6.1.4.1.57264.1.12).
		id.SourceRepositoryURI = repo
	}
	p.identity = &id
	opts := []sgverify.VerifierOption{sgverify.WithTransparencyLog(1), sgverify.WithIntegratedTimestamps(1)}
	if len(tr.CTLogs()) > 0 {
		// A root that lists CT logs gets its certificates' SCTs checked.
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	if p.verifier, err = sgverify.NewVerifier(tr, opts...); err != nil {
		return nil, action.UsageErr("trusted-root", err)
	}
	who := in.CertificateIdentity
	if who == "" {
		who = "~" + in.CertificateIdentityRegexp
	}
	p.Describe = fmt.Sprintf("%s from %s", who, in.CertificateOIDCIssuer)
	if in.CertificateRepository != "" {
		p.Describe += " for " + id.SourceRepositoryURI
	}
	return p, nil
}

// loadPublicKey reads a PEM public key given inline or as a file name.
func loadPublicKey(s string) (signature.Verifier, crypto.PublicKey, error) {
	data := []byte(s)
	if !strings.Contains(s, "-----BEGIN") {
		raw, err := os.ReadFile(s)
		if err != nil {
			return nil, nil, action.Usage("key", "is neither a PEM public key nor a readable file: %v", err)
		}
		data = raw
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
	if err != nil {
		return nil, nil, action.Usage("key", "is not a PEM public key: %v", err)
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, nil, action.Usage("key", "cannot verify with this key: %v", err)
	}
	return v, pub, nil
}

// fingerprint is the hex SHA-256 of a public key's DER, first 16 digits.
func fingerprint(pub crypto.PublicKey) string {
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return "(unknown)"
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

// ReadInputs reads a policy from the inputs every verifying action names
// alike: verify, certificate-identity, certificate-identity-regexp,
// certificate-oidc-issuer, key and trusted-root.
func ReadInputs(in *action.Inputs) Inputs {
	return Inputs{
		Require:                   in.List("verify"),
		CertificateIdentity:       in.String("certificate-identity"),
		CertificateIdentityRegexp: in.String("certificate-identity-regexp"),
		CertificateOIDCIssuer:     in.String("certificate-oidc-issuer"),
		CertificateRepository:     in.String("certificate-repository"),
		Key:                       in.String("key"),
		TrustedRoot:               in.String("trusted-root"),
	}
}
