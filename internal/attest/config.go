package attest

import (
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// What the attestations input may list.
const (
	KindSignature       = "signature"
	KindProvenance      = "provenance"
	KindSBOM            = "sbom"
	KindVulnerabilities = "vulnerabilities"
)

var kinds = []string{KindSignature, KindProvenance, KindSBOM, KindVulnerabilities}

// PlatformPlaceholder in sbom-file stands for a platform as os-arch[-variant].
const PlatformPlaceholder = "{platform}"

// Config is the attest action's parsed inputs.
type Config struct {
	ImageRef         name.Digest
	Signing          string // keyless or key
	Key              string
	KeyPassword      string
	Attestations     []string
	SBOMFile         string
	ScanReport       string
	Recursive        bool
	BuilderID        string
	FulcioURL        string
	RekorURL         string
	TlogUpload       bool
	RegistryUsername string
	RegistryPassword string
}

// Has says whether kind is among the attestations asked for.
func (c Config) Has(kind string) bool { return slices.Contains(c.Attestations, kind) }

// ParseConfig turns inputs into a Config; it does no I/O.
func ParseConfig(in *action.Inputs) (Config, error) {
	c := Config{
		Signing:          in.OneOf("signing", "keyless", "key"),
		Key:              in.Secret("key"),
		KeyPassword:      in.Secret("key-password"),
		SBOMFile:         in.String("sbom-file"),
		ScanReport:       in.String("scan-report"),
		Recursive:        in.Bool("recursive"),
		BuilderID:        in.String("builder-id"),
		FulcioURL:        strings.TrimRight(in.String("fulcio-url"), "/"),
		RekorURL:         strings.TrimRight(in.String("rekor-url"), "/"),
		TlogUpload:       in.Bool("tlog-upload"),
		RegistryUsername: in.String("registry-username"),
		RegistryPassword: in.Secret("registry-password"),
	}
	ref := in.String("image-ref")
	if d, err := name.NewDigest(ref); err != nil {
		in.Fail("image-ref", "%q is not a reference by digest (repository@sha256:...): sign what was built, not what a tag points at now", ref)
	} else {
		c.ImageRef = d
	}
	for _, k := range in.List("attestations") {
		if !slices.Contains(kinds, k) {
			in.Fail("attestations", "%q is not one of %s", k, strings.Join(kinds, ", "))
			continue
		}
		if !slices.Contains(c.Attestations, k) {
			c.Attestations = append(c.Attestations, k)
		}
	}
	if len(c.Attestations) == 0 {
		in.Fail("attestations", "lists nothing to attach")
	}
	if c.Has(KindSBOM) && c.SBOMFile == "" {
		in.Fail("sbom-file", "is required when attestations lists sbom")
	}
	if c.Has(KindVulnerabilities) && c.ScanReport == "" {
		in.Fail("scan-report", "is required when attestations lists vulnerabilities")
	}
	switch c.Signing {
	case "key":
		if c.Key == "" {
			in.Fail("key", "is required with signing: key")
		}
	case "keyless":
		if c.Key != "" {
			in.Fail("key", "is only used with signing: key")
		}
		if !c.TlogUpload {
			in.Fail("tlog-upload", "cannot be false with signing: keyless: a short-lived certificate proves nothing without its Rekor entry")
		}
		if c.FulcioURL == "" {
			in.Fail("fulcio-url", "is required with signing: keyless")
		}
	}
	if c.TlogUpload && c.RekorURL == "" {
		in.Fail("rekor-url", "is required when tlog-upload is true")
	}
	if (c.RegistryUsername == "") != (c.RegistryPassword == "") {
		missing := "registry-password"
		if c.RegistryUsername == "" {
			missing = "registry-username"
		}
		in.Fail(missing, "registry-username and registry-password go together")
	}
	return c, nil
}
