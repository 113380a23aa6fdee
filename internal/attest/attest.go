package attest

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/runtime"
	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	rekorclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/referrer"
	"github.com/gitops-actions/gitops-actions/internal/target"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// BundleMediaType is the Sigstore bundle v0.3 media type: the referrer's
// artifactType and its layer's media type, as cosign v3 writes them.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Annotations cosign v3 sets on a bundle referrer.
const (
	AnnotationPredicateType = "dev.sigstore.bundle.predicateType"
	AnnotationContent       = "dev.sigstore.bundle.content"
	AnnotationCreated       = "org.opencontainers.image.created"
)

// dsseInToto is the DSSE payload type of an in-toto statement.
const dsseInToto = "application/vnd.in-toto+json"

// Main runs the attest action.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "attest", env, ParseConfig, run)
}

// subject is one manifest to sign: the image-ref, or a platform of it.
type subject struct {
	Ref      name.Digest
	Desc     v1.Descriptor
	Platform string // os-arch[-variant]; "" for the image-ref itself
}

// Pushed is one bundle attached, as the attestations output lists it.
type Pushed struct {
	Subject       string `json:"subject"`
	Platform      string `json:"platform,omitempty"`
	Kind          string `json:"kind"`
	PredicateType string `json:"predicateType"`
	Ref           string `json:"ref"`
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	// Inputs first: a bad key or a missing token stops the run before any
	// request to the registry.
	s, err := newSigner(ctx, c, cfg)
	if err != nil {
		return err
	}
	preds, err := commonPredicates(c, cfg, s)
	if err != nil {
		return err
	}

	opts := target.RemoteOptions(ctx, target.Auth{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword})
	subjects, err := resolve(cfg, opts)
	if err != nil {
		return err
	}
	sboms, err := sbomsFor(cfg, subjects)
	if err != nil {
		return err
	}

	var pushed []Pushed
	now := time.Now().UTC().Format(time.RFC3339)
	for i, sub := range subjects {
		ps := preds
		if p, ok := sboms[i]; ok {
			ps = append(append([]predicate(nil), preds...), p)
		}
		for _, p := range ps {
			st, err := statement(sub.Ref.Context().Name(), sub.Desc.Digest.String(), p)
			if err != nil {
				return err
			}
			bundle, err := s.bundle(ctx, st)
			if err != nil {
				return err
			}
			ann := map[string]string{AnnotationCreated: now, AnnotationContent: "dsse-envelope", AnnotationPredicateType: p.Type}
			ref, err := referrer.PushEmptyConfig(referrer.Subject{Repo: sub.Ref.Context(), Descriptor: sub.Desc}, BundleMediaType, bundle, ann, opts...)
			if err != nil {
				return action.External(fmt.Errorf("attaching the %s bundle to %q: %w", p.Kind, sub.Ref.String(), err))
			}
			c.Logf("attest: %s of %s → %s", p.Kind, sub.Ref.String(), ref.DigestStr())
			pushed = append(pushed, Pushed{Subject: sub.Ref.String(), Platform: sub.Platform, Kind: p.Kind, PredicateType: p.Type, Ref: ref.String()})
		}
	}

	names := make([]string, len(subjects))
	for i, sub := range subjects {
		names[i] = sub.Ref.String()
	}
	list, err := json.Marshal(pushed)
	if err != nil {
		return err
	}
	c.SetOutput("digest", cfg.ImageRef.DigestStr())
	c.SetOutput("subjects", strings.Join(names, "\n"))
	c.SetOutput("attestations", string(list))
	c.SetOutput("identity", s.identity)
	c.SetReportData("attestations", pushed)
	c.SetReportData("signing", map[string]any{"mode": cfg.Signing, "identity": s.identity, "issuer": s.issuer, "tlog": cfg.TlogUpload})
	c.AddSummary(summary(cfg, s, subjects, pushed))
	return nil
}

// commonPredicates are those every subject gets alike.
func commonPredicates(c *action.Context, cfg Config, s *signer) ([]predicate, error) {
	var ps []predicate
	if cfg.Has(KindSignature) {
		ps = append(ps, predicate{Kind: KindSignature, Type: PredicateSignature})
	}
	if cfg.Has(KindProvenance) {
		builder := cfg.BuilderID
		if builder == "" && s.jobWorkflowRef != "" {
			server := c.Getenv("GITHUB_SERVER_URL")
			if server == "" {
				server = "https://github.com"
			}
			builder = server + "/" + s.jobWorkflowRef
		}
		p, err := provenancePredicate(c.Getenv, builder)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	if cfg.Has(KindVulnerabilities) {
		p, err := vulnPredicate(cfg.ScanReport)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// resolve lists the manifests to sign: image-ref and, for an index with
// recursive, each platform manifest (not buildkit's attestation manifests).
func resolve(cfg Config, opts []remote.Option) ([]subject, error) {
	desc, err := remote.Get(cfg.ImageRef, opts...)
	if err != nil {
		return nil, action.External(fmt.Errorf("fetching %q: %w", cfg.ImageRef.String(), err))
	}
	if desc.Digest.String() != cfg.ImageRef.DigestStr() {
		return nil, action.External(fmt.Errorf("the registry served %s for %q", desc.Digest, cfg.ImageRef.String()))
	}
	subs := []subject{{Ref: cfg.ImageRef, Desc: desc.Descriptor}}
	if !desc.MediaType.IsIndex() || !cfg.Recursive {
		return subs, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, action.External(fmt.Errorf("reading index %q: %w", cfg.ImageRef.String(), err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, action.External(fmt.Errorf("reading index %q: %w", cfg.ImageRef.String(), err))
	}
	for _, m := range im.Manifests {
		if m.Annotations["vnd.docker.reference.type"] != "" || (m.Platform != nil && m.Platform.OS == "unknown") {
			continue
		}
		subs = append(subs, subject{
			Ref:      cfg.ImageRef.Context().Digest(m.Digest.String()),
			Desc:     v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size},
			Platform: platformName(m.Platform),
		})
	}
	return subs, nil
}

// platformName is how {platform} spells a platform in a file name.
func platformName(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "-" + p.Architecture
	if p.Variant != "" {
		s += "-" + p.Variant
	}
	return s
}

// sbomsFor maps subjects (by index) to their SBOM: with {platform}, each
// platform's own file, all of which must exist; without, the one file
// belongs to image-ref.
func sbomsFor(cfg Config, subs []subject) (map[int]predicate, error) {
	out := map[int]predicate{}
	if !cfg.Has(KindSBOM) {
		return out, nil
	}
	if !strings.Contains(cfg.SBOMFile, PlatformPlaceholder) {
		p, err := sbomPredicate(cfg.SBOMFile)
		if err != nil {
			return nil, err
		}
		out[0] = p
		return out, nil
	}
	if len(subs) == 1 {
		return nil, action.Usage("sbom-file", "%q has %s but %q is a single image, not an index with platforms", cfg.SBOMFile, PlatformPlaceholder, cfg.ImageRef.String())
	}
	for i, sub := range subs[1:] {
		p, err := sbomPredicate(strings.ReplaceAll(cfg.SBOMFile, PlatformPlaceholder, sub.Platform))
		if err != nil {
			return nil, err
		}
		out[i+1] = p
	}
	return out, nil
}

// signer makes bundles with one key and, keyless, one certificate.
type signer struct {
	keypair  sign.Keypair
	opts     sign.BundleOptions
	identity string // certificate SAN, or the key's hint
	issuer   string
	// jobWorkflowRef is the OIDC token's workflow (keyless only).
	jobWorkflowRef string
}

func newSigner(ctx context.Context, c *action.Context, cfg Config) (*signer, error) {
	client := transport.For(ctx)
	s := &signer{}
	if cfg.Signing == "key" {
		kp, err := loadKey(cfg.Key, cfg.KeyPassword)
		if err != nil {
			return nil, err
		}
		s.keypair, s.identity = kp, string(kp.GetHint())
	} else {
		tok, err := fetchIDToken(ctx, c)
		if err != nil {
			return nil, err
		}
		s.jobWorkflowRef = tok.JobWorkflowRef
		kp, err := sign.NewEphemeralKeypair(nil)
		if err != nil {
			return nil, err
		}
		s.keypair = kp
		if _, err := url.Parse(cfg.FulcioURL); err != nil {
			return nil, action.Usage("fulcio-url", "%q is not a URL: %v", cfg.FulcioURL, err)
		}
		// Retries are the transport's: sigstore-go's own would sleep
		// seconds between them and stack on ours.
		fulcio := sign.NewFulcio(&sign.FulcioOptions{BaseURL: cfg.FulcioURL, Timeout: -1, Transport: client})
		cert := &onceCertificate{inner: fulcio}
		s.opts.CertificateProvider = cert
		s.opts.CertificateProviderOptions = &sign.CertificateProviderOptions{IDToken: tok.Raw}
		der, err := cert.GetCertificate(ctx, kp, s.opts.CertificateProviderOptions)
		if err != nil {
			return nil, action.External(fmt.Errorf("getting a signing certificate from %s: %w", cfg.FulcioURL, err))
		}
		if s.identity, s.issuer, err = certIdentity(der); err != nil {
			return nil, action.External(fmt.Errorf("the certificate from %s: %w", cfg.FulcioURL, err))
		}
	}
	if cfg.TlogUpload {
		rc, err := newRekorClient(cfg.RekorURL, client)
		if err != nil {
			return nil, err
		}
		s.opts.TransparencyLogs = []sign.Transparency{sign.NewRekor(&sign.RekorOptions{BaseURL: cfg.RekorURL, Timeout: -1, Client: rc.Entries})}
	}
	s.opts.Context = ctx
	return s, nil
}

// bundle signs statement as a DSSE envelope and returns the bundle JSON.
func (s *signer) bundle(ctx context.Context, statement []byte) ([]byte, error) {
	opts := s.opts
	opts.Context = ctx
	b, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: dsseInToto}, s.keypair, opts)
	if err != nil {
		return nil, action.External(fmt.Errorf("signing (certificate and transparency log): %w", err))
	}
	return protojson.Marshal(b)
}

// onceCertificate asks Fulcio once per run: every bundle of the run shares
// the ephemeral key and its certificate.
type onceCertificate struct {
	inner sign.CertificateProvider
	mu    sync.Mutex
	der   []byte
}

func (o *onceCertificate) GetCertificate(ctx context.Context, kp sign.Keypair, opts *sign.CertificateProviderOptions) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.der != nil {
		return o.der, nil
	}
	der, err := o.inner.GetCertificate(ctx, kp, opts)
	if err != nil {
		return nil, err
	}
	o.der = der
	return der, nil
}

// newRekorClient is Rekor's generated client over our transport, so its
// calls have the same timeouts and bounded retries as every other.
func newRekorClient(base string, rt *transport.Transport) (*rekorclient.Rekor, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, action.Usage("rekor-url", "%q is not an http(s) URL", base)
	}
	path := u.Path
	if path == "" {
		path = rekorclient.DefaultBasePath
	}
	r := httptransport.NewWithClient(u.Host, path, []string{u.Scheme}, rt.Client())
	r.Consumers["application/json"] = runtime.JSONConsumer()
	r.Consumers["application/x-pem-file"] = runtime.TextConsumer()
	r.Producers["application/json"] = runtime.JSONProducer()
	reg := strfmt.Default
	reg.Add("signedCheckpoint", &util.SignedNote{}, util.SignedCheckpointValidator)
	return rekorclient.New(r, reg), nil
}

// OIDs of Fulcio's issuer extensions: v2 (DER string) and v1 (raw).
var (
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
)

// certIdentity reads the SAN and OIDC issuer of a Fulcio certificate.
func certIdentity(der []byte) (identity, issuer string, err error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", "", err
	}
	switch {
	case len(cert.URIs) > 0:
		identity = cert.URIs[0].String()
	case len(cert.EmailAddresses) > 0:
		identity = cert.EmailAddresses[0]
	default:
		return "", "", errors.New("has no URI or email identity")
	}
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(oidIssuerV2):
			var s string
			if _, err := asn1.Unmarshal(ext.Value, &s); err == nil {
				issuer = s
			}
		case ext.Id.Equal(oidIssuerV1) && issuer == "":
			issuer = string(ext.Value)
		}
	}
	return identity, issuer, nil
}

func summary(cfg Config, s *signer, subs []subject, pushed []Pushed) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### attest\n\nSigned `%s` (%s", cfg.ImageRef.String(), cfg.Signing)
	if s.issuer != "" {
		fmt.Fprintf(&b, ": `%s` from `%s`", s.identity, s.issuer)
	}
	fmt.Fprintf(&b, "); %d manifest(s), %d bundle(s).\n\n| manifest | platform | attestation |\n|---|---|---|\n", len(subs), len(pushed))
	for _, p := range pushed {
		plat := p.Platform
		if plat == "" {
			plat = "(image-ref)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s (`%s`) |\n", p.Subject[strings.LastIndex(p.Subject, "@")+1:], plat, p.Kind, p.PredicateType)
	}
	return b.String()
}
