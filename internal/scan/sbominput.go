package scan

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/catalog"
	"github.com/gitops-actions/gitops-actions/internal/target"
)

// sbomAttached is the sbom input that names image-ref's SBOM referrer.
const sbomAttached = "attached"

// maxSBOMBytes bounds an SBOM read from a file or a registry; the largest
// real images list tens of thousands of packages in well under this.
const maxSBOMBytes = 512 << 20

// checkSBOMInput refuses inputs that mean nothing beside sbom.
func checkSBOMInput(in *action.Inputs, c Config) {
	switch {
	case c.Input != "" || c.Path != "":
		in.Fail("sbom", "rescans an SBOM; input and path scan something else, give one or the other")
	case c.SBOM == sbomAttached && c.ImageRef == "":
		in.Fail("sbom", "attached needs image-ref: the SBOM is found as a referrer of that image")
	case c.SBOM != sbomAttached && c.ImageRef != "":
		in.Fail("sbom", "a file is rescanned by itself; image-ref goes with sbom: attached")
	}
	if c.AttachSBOM && c.ImageRef != "" {
		in.Fail("attach-sbom", "the SBOM is the input of a rescan (sbom); there is nothing new to attach")
	}
	if !c.Vulnerabilities {
		in.Fail("sbom", "a rescan matches vulnerabilities; vulnerabilities: false leaves nothing to do")
	}
}

// rescan is a resolved sbom input: one decoded SBOM per platform (one in
// all for a file or a single-platform image).
type rescan struct {
	docs []rescanDoc
}

type rescanDoc struct {
	decoded  *catalog.Decoded
	res      *catalog.Result // what matchDocs made of it
	File     string          `json:"file,omitempty"`
	Platform string          `json:"platform,omitempty"`
	Subject  string          `json:"subject,omitempty"` // digest of the manifest the SBOM describes
	Ref      string          `json:"ref,omitempty"`     // the referrer artifact
	Format   string          `json:"format"`
	Distro   string          `json:"distro,omitempty"`
	Packages int             `json:"packages"`
}

// readSBOMInput reads and decodes the sbom input, or returns nil when
// there is none. Only manifests and the SBOM blobs are fetched.
func readSBOMInput(ctx context.Context, cfg Config) (*rescan, error) {
	switch cfg.SBOM {
	case "":
		return nil, nil
	case sbomAttached:
		return attachedSBOMs(ctx, cfg)
	}
	data, err := readLimited(cfg.SBOM)
	if err != nil {
		return nil, action.UsageErr("sbom", err)
	}
	d, err := decodeSBOM(cfg.SBOM, data)
	if err != nil {
		return nil, err
	}
	d.File = cfg.SBOM
	return &rescan{docs: []rescanDoc{d}}, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSBOMBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	if len(data) > maxSBOMBytes {
		return nil, fmt.Errorf("%q is larger than %d MiB", path, maxSBOMBytes>>20)
	}
	return data, nil
}

func decodeSBOM(what string, data []byte) (rescanDoc, error) {
	d, err := catalog.DecodeSBOM(data)
	if err != nil {
		return rescanDoc{}, action.UsageErr("sbom", fmt.Errorf("%s: %w", what, err))
	}
	return rescanDoc{decoded: d, Format: d.Format, Distro: d.Distro()}, nil
}

// subject is a manifest whose SBOM referrer is looked up.
type subject struct {
	platform string
	digest   v1.Hash
}

// attachedSBOMs finds the SBOM referrer of image-ref through the referrers
// API or its sha256-<digest> tag. For an index each platform manifest is a
// subject (SBOMs attached per platform); an index whose platforms carry
// none falls back to an SBOM attached to the index itself. A platform
// left without an SBOM would go unscanned, so that is refused.
func attachedSBOMs(ctx context.Context, cfg Config) (*rescan, error) {
	rs, missing, err := findAttached(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if rs == nil {
		return nil, action.UsageErr("sbom", fmt.Errorf("%q has no SBOM referrer (%s); scan it with attach-sbom: true first",
			cfg.ImageRef, strings.Join(slices.Sorted(maps.Keys(sbomArtifactTypes)), ", ")))
	}
	if len(missing) > 0 {
		return nil, action.UsageErr("sbom", fmt.Errorf("%q has no SBOM referrer for %s, which would go unscanned; attach one per platform",
			cfg.ImageRef, strings.Join(missing, ", ")))
	}
	return rs, nil
}

// findAttached is the SBOM referrers of cfg.ImageRef as attachedSBOMs
// reads them: nil when there is none, and the platforms left without one.
func findAttached(ctx context.Context, cfg Config) (*rescan, []string, error) {
	ref, err := name.ParseReference(cfg.ImageRef)
	if err != nil {
		return nil, nil, action.UsageErr("image-ref", fmt.Errorf("parsing %q: %w", cfg.ImageRef, err))
	}
	opts := target.RemoteOptions(ctx, target.Auth{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword})
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, nil, action.External(fmt.Errorf("fetching %q: %w", cfg.ImageRef, err))
	}
	top := subject{digest: desc.Digest}
	subjects := []subject{top}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, nil, action.External(fmt.Errorf("reading index %q: %w", cfg.ImageRef, err))
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, nil, action.External(fmt.Errorf("reading index %q: %w", cfg.ImageRef, err))
		}
		subjects = nil
		for _, m := range im.Manifests {
			// buildx lists its attestation manifests as unknown/unknown.
			if m.Platform == nil || m.Platform.OS == "unknown" || !m.MediaType.IsImage() {
				continue
			}
			subjects = append(subjects, subject{platform: m.Platform.String(), digest: m.Digest})
		}
	}
	var docs []rescanDoc
	var missing []string
	for _, s := range subjects {
		d, ok, err := referrerSBOM(ref.Context(), s, opts)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			missing = append(missing, cmp.Or(s.platform, s.digest.String()))
			continue
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 && desc.MediaType.IsIndex() {
		d, ok, err := referrerSBOM(ref.Context(), top, opts)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			return &rescan{docs: []rescanDoc{d}}, nil, nil
		}
	}
	if len(docs) == 0 {
		return nil, missing, nil
	}
	return &rescan{docs: docs}, missing, nil
}

// sbomArtifactTypes are the artifact types read as SBOMs: the ones this
// action attaches.
var sbomArtifactTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range sbomMediaTypes {
		m[t] = true
	}
	return m
}()

// referrerSBOM fetches the newest SBOM referrer of s (by its created
// annotation, the later listed on a tie).
func referrerSBOM(repo name.Repository, s subject, opts []remote.Option) (rescanDoc, bool, error) {
	sub := repo.Digest(s.digest.String())
	idx, err := remote.Referrers(sub, opts...)
	if err != nil {
		return rescanDoc{}, false, action.External(fmt.Errorf("listing the referrers of %q: %w", sub.String(), err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return rescanDoc{}, false, action.External(fmt.Errorf("listing the referrers of %q: %w", sub.String(), err))
	}
	var best *v1.Descriptor
	var bestAt time.Time
	for i, m := range im.Manifests {
		if !sbomArtifactTypes[m.ArtifactType] {
			continue
		}
		at, _ := time.Parse(time.RFC3339, m.Annotations["org.opencontainers.image.created"])
		if best == nil || !at.Before(bestAt) {
			best, bestAt = &im.Manifests[i], at
		}
	}
	if best == nil {
		return rescanDoc{}, false, nil
	}
	art := repo.Digest(best.Digest.String())
	data, err := fetchSBOM(art, opts)
	if err != nil {
		return rescanDoc{}, false, err
	}
	d, err := decodeSBOM(fmt.Sprintf("the referrer %s", art.String()), data)
	if err != nil {
		return rescanDoc{}, false, err
	}
	d.Platform, d.Subject, d.Ref = s.platform, s.digest.String(), art.String()
	return d, true, nil
}

// fetchSBOM reads the one layer of an SBOM artifact; go-containerregistry
// checks the manifest and the blob against their digests.
func fetchSBOM(art name.Digest, opts []remote.Option) ([]byte, error) {
	img, err := remote.Image(art, opts...)
	if err != nil {
		return nil, action.External(fmt.Errorf("fetching the SBOM %q: %w", art.String(), err))
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, action.External(fmt.Errorf("fetching the SBOM %q: %w", art.String(), err))
	}
	if len(m.Layers) != 1 {
		return nil, action.UsageErr("sbom", fmt.Errorf("the SBOM %q has %d layers, want 1", art.String(), len(m.Layers)))
	}
	if m.Layers[0].Size > maxSBOMBytes {
		return nil, action.UsageErr("sbom", fmt.Errorf("the SBOM %q is larger than %d MiB", art.String(), maxSBOMBytes>>20))
	}
	l, err := img.LayerByDigest(m.Layers[0].Digest)
	if err != nil {
		return nil, action.External(fmt.Errorf("fetching the SBOM %q: %w", art.String(), err))
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, action.External(fmt.Errorf("fetching the SBOM %q: %w", art.String(), err))
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSBOMBytes+1))
	if err != nil {
		return nil, action.External(fmt.Errorf("fetching the SBOM %q: %w", art.String(), err))
	}
	if len(data) > maxSBOMBytes {
		return nil, action.UsageErr("sbom", fmt.Errorf("the SBOM %q is larger than %d MiB", art.String(), maxSBOMBytes>>20))
	}
	return data, nil
}

// target is what a rescan stands in for: image-ref, for the database
// login, or the file.
func (r *rescan) target(cfg Config) (*target.Target, error) {
	if cfg.ImageRef == "" {
		return &target.Target{Name: cfg.SBOM}, nil
	}
	ref, err := name.ParseReference(cfg.ImageRef)
	if err != nil {
		return nil, action.UsageErr("image-ref", fmt.Errorf("parsing %q: %w", cfg.ImageRef, err))
	}
	return &target.Target{Kind: target.Registry, Name: cfg.ImageRef, Ref: ref}, nil
}

// match rescans every SBOM and joins the results into one, each platform's
// results named for it. For an index's per-platform SBOMs it also returns
// one platform scan each, gated as an image scan's platforms are.
func (r *rescan) match(ctx context.Context, c *action.Context, name string) (*catalog.Result, []*platformScan, error) {
	all, ps, err := r.matchDocs(ctx, c, name)
	if err != nil {
		return nil, nil, err
	}
	c.SetReportData("source", map[string]any{"kind": "sbom", "sboms": r.docs})
	return all, ps, nil
}

// matchDocs is match without the report's source; each document keeps
// its own result in res.
func (r *rescan) matchDocs(ctx context.Context, c *action.Context, name string) (*catalog.Result, []*platformScan, error) {
	var all []*catalog.Result
	var ps []*platformScan
	for i, d := range r.docs {
		label := name
		if d.Platform != "" {
			label = name + " (" + d.Platform + ")"
		}
		res, err := catalog.RunSBOM(ctx, d.decoded, label)
		if err != nil {
			return nil, nil, action.External(err)
		}
		r.docs[i].Packages = res.Packages
		if d.Platform != "" {
			for i := range res.Report.Results {
				res.Report.Results[i].Target = d.Platform + ": " + res.Report.Results[i].Target
			}
			ps = append(ps, &platformScan{Platform: d.Platform, Digest: d.Subject, SBOMRef: d.Ref, Packages: res.Packages, res: res})
		}
		if d.Distro == "" && hasOSPackages(res.Report) {
			c.Warnf("the SBOM %s names no operating system: its OS packages cannot be matched", cmp.Or(d.Ref, d.File))
		}
		r.docs[i].res = res
		all = append(all, res)
	}
	// The joined result only counts; each platform keeps its own.
	return catalog.Joined(all), ps, nil
}

func hasOSPackages(rep types.Report) bool {
	for _, r := range rep.Results {
		if r.Class == types.ClassOSPkg && len(r.Packages) > 0 {
			return true
		}
	}
	return false
}

// summaryLine says what was rescanned.
func (r *rescan) summaryLine() string {
	var parts []string
	for _, d := range r.docs {
		s := cmp.Or(d.Ref, "`"+d.File+"`")
		if d.Platform != "" {
			s = d.Platform + ": " + s
		}
		parts = append(parts, fmt.Sprintf("%s (%s, %d packages)", s, d.Format, d.Packages))
	}
	return "Rescanned from the SBOM " + strings.Join(parts, "; ") + "; no layer was pulled.\n"
}
