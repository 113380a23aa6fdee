package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/anchore/syft/syft/format"
	"github.com/anchore/syft/syft/format/cyclonedxjson"
	"github.com/anchore/syft/syft/format/spdxjson"
	"github.com/anchore/syft/syft/format/syftjson"
	"github.com/anchore/syft/syft/pkg"
	"github.com/anchore/syft/syft/sbom"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	sbomartifact "github.com/aquasecurity/trivy/pkg/fanal/artifact/sbom"
	"github.com/package-url/packageurl-go"
)

// ErrNotSBOM is returned for a document that is none of the three formats.
var ErrNotSBOM = errors.New("not an SPDX JSON, CycloneDX JSON or syft JSON document")

// Decoded is an SBOM read back: its format, syft's model of it (packages
// with purls, CPEs and versions, and the distribution) and the document.
type Decoded struct {
	Format string
	SBOM   *sbom.SBOM
	doc    []byte
}

// Distro is the operating system the SBOM names, as id-version, or "".
func (d *Decoded) Distro() string {
	r := d.SBOM.Artifacts.LinuxDistribution
	if r == nil || r.ID == "" {
		return ""
	}
	if r.VersionID == "" {
		return r.ID
	}
	return r.ID + "-" + r.VersionID
}

// DecodeSBOM identifies doc with syft's decoders and decodes it. Only the
// three JSON formats this action writes are accepted: syft also reads
// plain purl or CPE lists, which would turn any text into an empty SBOM.
func DecodeSBOM(doc []byte) (*Decoded, error) {
	if !json.Valid(doc) {
		return nil, fmt.Errorf("%w: it is not JSON", ErrNotSBOM)
	}
	id, _ := format.Identify(bytes.NewReader(doc))
	var f string
	var dec sbom.FormatDecoder
	switch id {
	case syftjson.ID:
		f, dec = SyftJSON, syftjson.NewFormatDecoder()
	case cyclonedxjson.ID:
		f, dec = CycloneDXJSON, cyclonedxjson.NewFormatDecoder()
	case spdxjson.ID:
		f, dec = SPDXJSON, spdxjson.NewFormatDecoder()
	default:
		return nil, fmt.Errorf("%w: JSON of no known SBOM format", ErrNotSBOM)
	}
	s, _, _, err := dec.Decode(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("%w: decoding it as %s: %w", ErrNotSBOM, f, err)
	}
	if s == nil {
		return nil, fmt.Errorf("%w: decoding it as %s gave nothing", ErrNotSBOM, f)
	}
	return &Decoded{Format: f, SBOM: s, doc: doc}, nil
}

// RunSBOM matches the packages of d against the vulnerability database,
// which must be open (vulndb.Open); nothing is pulled. trivy reads
// CycloneDX (its own and syft's) and its own SPDX completely, source
// package names and file paths included, so those go to it unchanged; that
// is also how an image scan with sbom-generator syft matches. Other
// documents go through syft's model into syft's CycloneDX, which keeps
// purls, CPEs, versions and the distribution.
func RunSBOM(ctx context.Context, d *Decoded, name string) (*Result, error) {
	doc := d.doc
	if d.Format == SyftJSON || d.Format == SPDXJSON && !trivySPDX(doc) {
		var buf bytes.Buffer
		if err := encodeSyft(&buf, CycloneDXJSON, d.SBOM); err != nil {
			return nil, err
		}
		doc = buf.Bytes()
	}
	var purls, paths map[string]string
	if d.Format != SPDXJSON || !trivySPDX(d.doc) {
		var err error
		if purls, err = bomRefs(doc); err != nil {
			return nil, err
		}
		paths = ownFiles(d.SBOM, purls)
	}
	tmp, err := os.CreateTemp("", "scan-rescan-*.json")
	if err != nil {
		return nil, fmt.Errorf("staging the SBOM of %q for matching: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(doc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("staging the SBOM of %q for matching: %w", name, err)
	}
	c := cache.NewMemoryCache()
	art, err := sbomartifact.NewArtifact(tmp.Name(), c, artifact.Option{NoProgress: true, Offline: true})
	if err != nil {
		return nil, fmt.Errorf("reading the SBOM of %q for matching: %w", name, err)
	}
	rep, err := detect(ctx, c, art)
	if err != nil {
		return nil, fmt.Errorf("rescanning the SBOM of %q: %w", name, err)
	}
	rep.ArtifactName = name
	n := 0
	for _, res := range rep.Results {
		n += len(res.Packages)
	}
	r := &Result{Report: rep, Packages: n, purls: purls, paths: paths}
	r.encode = func(w io.Writer, format string) error { return encodeSyft(w, format, d.SBOM) }
	// Another matcher reads the decoded package list, as `grype sbom:` would.
	r.syft = func() *sbom.SBOM { return d.SBOM }
	return r, nil
}

// ownFiles maps the bom-refs of syft's CycloneDX (refs, bom-ref → purl)
// to the file each package was found in, for the packages this action's
// trivy generator carried into syft's model: it marks a package's own file
// as primary evidence, which trivy does not read from syft's document.
func ownFiles(s *sbom.SBOM, refs map[string]string) map[string]string {
	byID := map[string]string{}
	for p := range s.Artifacts.Packages.Enumerate() {
		if !strings.HasPrefix(p.FoundBy, "trivy-") {
			continue
		}
		for _, l := range p.Locations.ToSlice() {
			if l.Annotations[pkg.EvidenceAnnotationKey] == pkg.PrimaryEvidenceAnnotation {
				byID[string(p.ID())] = l.RealPath
			}
		}
	}
	out := map[string]string{}
	for ref := range refs {
		// syft's bom-ref is the purl with the package ID as a qualifier.
		if u, err := packageurl.FromString(ref); err == nil {
			if f, ok := byID[u.Qualifiers.Map()["package-id"]]; ok {
				out[ref] = f
			}
		}
	}
	return out
}

// trivySPDX tells whether an SPDX document was written by trivy's
// marshaler, whose annotations trivy reads back in full.
func trivySPDX(doc []byte) bool {
	var d struct {
		CreationInfo struct {
			Creators []string `json:"creators"`
		} `json:"creationInfo"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return false
	}
	for _, c := range d.CreationInfo.Creators {
		if strings.HasPrefix(c, "Tool: trivy") {
			return true
		}
	}
	return false
}

// Joined is one result of all of rs, which are left as they are: the
// platforms of one index, matched apart and counted together.
func Joined(rs []*Result) *Result {
	var all *Result
	for _, r := range rs {
		c := *r
		c.Report.Results = slices.Clone(r.Report.Results)
		c.purls, c.paths = maps.Clone(r.purls), maps.Clone(r.paths)
		if all == nil {
			all = &c
		} else {
			all.Join(&c)
		}
	}
	return all
}

// Join adds the results and packages of o to r: the platforms of one
// index, matched apart and gated together.
func (r *Result) Join(o *Result) {
	r.Report.Results = append(r.Report.Results, o.Report.Results...)
	r.Packages += o.Packages
	if len(o.purls) > 0 && r.purls == nil {
		r.purls = map[string]string{}
	}
	maps.Copy(r.purls, o.purls)
	if len(o.paths) > 0 && r.paths == nil {
		r.paths = map[string]string{}
	}
	maps.Copy(r.paths, o.paths)
	mine, theirs := r.syft, o.syft
	r.syft = func() *sbom.SBOM {
		a, b := mine(), theirs()
		joined := *a
		joined.Artifacts.Packages = pkg.NewCollection(append(a.Artifacts.Packages.Sorted(), b.Artifacts.Packages.Sorted()...)...)
		joined.Relationships = append(slices.Clone(a.Relationships), b.Relationships...)
		return &joined
	}
}
