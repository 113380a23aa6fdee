package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/catalog"
	"github.com/gitops-actions/gitops-actions/internal/grypematch"
	"github.com/gitops-actions/gitops-actions/internal/referrer"
	"github.com/gitops-actions/gitops-actions/internal/target"
	"github.com/gitops-actions/gitops-actions/internal/version"
)

// platformPlaceholder in sbom-file is replaced by each platform's name as
// platformSlug spells it, as the attest action reads it.
const platformPlaceholder = "{platform}"

// parallelPlatforms bounds the platforms analysed at once: each holds its
// image's package list and layer reads.
const parallelPlatforms = 2

// platformScan is one platform of an index: its image, its analysis, its
// SBOM and what matched in it.
type platformScan struct {
	Platform string         `json:"platform"` // linux/arm64
	Digest   string         `json:"digest"`   // of its manifest, the SBOM's subject
	SBOMFile string         `json:"sbom-file,omitempty"`
	SBOMRef  string         `json:"sbom-ref,omitempty"`
	Packages int            `json:"packages"`
	Counts   map[string]int `json:"counts,omitempty"`

	pattern string // sbom-file with {platform}
	target  *target.Target
	res     *catalog.Result
	sbom    []byte
	vulns   []Vulnerability
}

// platformSlug is a platform as a file name spells it: os-arch[-variant].
func platformSlug(p v1.Platform) string {
	s := p.OS + "-" + p.Architecture
	if p.Variant != "" {
		s += "-" + p.Variant
	}
	return s
}

// platformMatches says whether p is what spec (os/arch[/variant]) names;
// a spec without a variant takes any.
func platformMatches(p, spec v1.Platform) bool {
	return p.OS == spec.OS && p.Architecture == spec.Architecture && (spec.Variant == "" || p.Variant == spec.Variant)
}

// checkPlatforms parses the platforms input.
func checkPlatforms(in *action.Inputs, c Config) {
	for _, s := range c.Platforms {
		p, err := v1.ParsePlatform(s)
		if err != nil || p.OS == "" || p.Architecture == "" {
			in.Fail("platforms", "%q is not os/arch[/variant], e.g. linux/arm64", s)
		}
	}
	switch {
	case len(c.Platforms) == 0:
	case c.Path != "":
		in.Fail("platforms", "picks platforms of an image; path is a directory")
	case c.SBOM != "":
		in.Fail("platforms", "picks platforms to analyse; a rescan (sbom) matches every SBOM it is given")
	}
	if c.Path != "" && strings.Contains(c.SBOMFile, platformPlaceholder) {
		in.Fail("sbom-file", "has %s, but path is a directory, which has no platform", platformPlaceholder)
	}
}

// singleSBOMFile is sbom-file for a target that is not an index: its
// {platform} is the image's own platform.
func singleSBOMFile(cfg Config, t *target.Target) (string, error) {
	if !strings.Contains(cfg.SBOMFile, platformPlaceholder) || t.Image == nil {
		return cfg.SBOMFile, nil
	}
	cf, err := t.Image.ConfigFile()
	if err != nil {
		return "", action.External(fmt.Errorf("reading the config of %q: %w", t.Name, err))
	}
	p := cf.Platform()
	if p == nil {
		return "", action.UsageErr("sbom-file", fmt.Errorf("has %s, but %q states no platform", platformPlaceholder, t.Name))
	}
	return strings.ReplaceAll(cfg.SBOMFile, platformPlaceholder, platformSlug(*p)), nil
}

// defaultPlatformSBOMFile is the default sbom-file with {platform} before
// its extension, for an index of several platforms: sbom-{platform}.json.
func defaultPlatformSBOMFile(file string) string {
	ext := filepath.Ext(file)
	return strings.TrimSuffix(file, ext) + "-" + platformPlaceholder + ext
}

// selectPlatforms lists the platforms of t to analyse: nil for a target
// that is not an index (after checking a single image against the
// platforms input). A platform the input names and the index lacks is
// refused: it would go unscanned.
func selectPlatforms(cfg Config, t *target.Target) ([]*platformScan, error) {
	return pickPlatforms(cfg, t, false)
}

// pickPlatforms is selectPlatforms; lenient, for a baseline image, it
// takes what the image has of the platforms named and refuses none.
func pickPlatforms(cfg Config, t *target.Target, lenient bool) ([]*platformScan, error) {
	var specs []v1.Platform
	for _, s := range cfg.Platforms {
		p, err := v1.ParsePlatform(s)
		if err != nil {
			return nil, action.UsageErr("platforms", err)
		}
		specs = append(specs, *p)
	}
	registryIndex := t.Kind == target.Registry && t.Descriptor.MediaType.IsIndex()
	if !registryIndex && len(t.Index) == 0 {
		if len(specs) == 0 || t.Image == nil || lenient {
			return nil, nil
		}
		cf, err := t.Image.ConfigFile()
		if err != nil {
			return nil, action.External(fmt.Errorf("reading the config of %q: %w", t.Name, err))
		}
		own := cf.Platform()
		if own == nil || !slices.ContainsFunc(specs, func(s v1.Platform) bool { return platformMatches(*own, s) }) {
			return nil, action.UsageErr("platforms", fmt.Errorf("%q is a single image of %s, not %s", t.Name, platformString(own), strings.Join(cfg.Platforms, ", ")))
		}
		return nil, nil
	}
	manifests, image, err := indexImages(t, registryIndex)
	if err != nil {
		return nil, err
	}
	var out []*platformScan
	found := make([]bool, len(specs))
	var have []string
	for _, m := range manifests {
		// buildx lists its attestation manifests as unknown/unknown.
		if m.Platform == nil || m.Platform.OS == "unknown" || !m.MediaType.IsImage() {
			continue
		}
		have = append(have, m.Platform.String())
		picked := len(specs) == 0
		for i, s := range specs {
			if platformMatches(*m.Platform, s) {
				found[i], picked = true, true
			}
		}
		if !picked {
			continue
		}
		pt, err := image(m)
		if err != nil {
			return nil, err
		}
		out = append(out, &platformScan{Platform: m.Platform.String(), Digest: m.Digest.String(), target: pt})
	}
	for i, ok := range found {
		if !ok && !lenient {
			return nil, action.UsageErr("platforms", fmt.Errorf("%q has no %s image; it has %s", t.Name, cfg.Platforms[i], strings.Join(have, ", ")))
		}
	}
	if len(out) == 0 && lenient {
		return out, nil
	}
	if len(out) == 0 {
		return nil, action.External(fmt.Errorf("index %q lists no platform image", t.Name))
	}
	file := cfg.SBOMFile
	if len(out) > 1 && !cfg.SBOMFileSet && !strings.Contains(file, platformPlaceholder) {
		file = defaultPlatformSBOMFile(file)
	}
	if len(out) > 1 && !strings.Contains(file, platformPlaceholder) {
		return nil, action.UsageErr("sbom-file", fmt.Errorf("%q has %d platforms, each with its own SBOM: put %s in the file name (e.g. sbom-%s.json)",
			t.Name, len(out), platformPlaceholder, platformPlaceholder))
	}
	for _, p := range out {
		p.pattern = file
		p.SBOMFile = strings.ReplaceAll(file, platformPlaceholder, platformSlug(*p.target.Descriptor.Platform))
	}
	return out, nil
}

// indexImages lists the manifests of t's index (in its registry, or in its
// layout) and how to open each as a target of its own.
func indexImages(t *target.Target, registry bool) ([]v1.Descriptor, func(v1.Descriptor) (*target.Target, error), error) {
	if !registry {
		var ms []v1.Descriptor
		imgs := map[v1.Hash]v1.Image{}
		for _, ii := range t.Index {
			ms = append(ms, ii.Descriptor)
			imgs[ii.Descriptor.Digest] = ii.Image
		}
		return ms, func(m v1.Descriptor) (*target.Target, error) {
			return &target.Target{Kind: target.Archive, Name: t.Name + "@" + m.Digest.String(), Image: imgs[m.Digest], Digest: m.Digest, Descriptor: m}, nil
		}, nil
	}
	idx, err := remote.Index(t.Ref.Context().Digest(t.Digest.String()), t.Options...)
	if err != nil {
		return nil, nil, action.External(fmt.Errorf("reading index %q: %w", t.Name, err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, action.External(fmt.Errorf("reading index %q: %w", t.Name, err))
	}
	return im.Manifests, func(m v1.Descriptor) (*target.Target, error) {
		img, err := idx.Image(m.Digest)
		if err != nil {
			return nil, action.External(fmt.Errorf("reading the %s image of %q: %w", m.Platform, t.Name, err))
		}
		ref := t.Ref.Context().Digest(m.Digest.String())
		return &target.Target{Kind: target.Registry, Name: ref.String(), Image: img, Ref: ref, Digest: m.Digest, Descriptor: m, Options: t.Options}, nil
	}, nil
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return "no stated platform"
	}
	return p.String()
}

// analysePlatforms analyses each platform's image, a few at once, and
// writes its SBOM. It returns the results joined, for the package count.
func analysePlatforms(ctx context.Context, c *action.Context, cfg Config, ps []*platformScan) (*catalog.Result, error) {
	if err := analyseEach(ctx, c, cfg, ps, true); err != nil {
		return nil, err
	}
	return writePlatformSBOMs(c, cfg, ps)
}

// analyseEach analyses each platform's image, a few at once, writing
// nothing; with encodeSBOMs it encodes each platform's SBOM too.
func analyseEach(ctx context.Context, c *action.Context, cfg Config, ps []*platformScan, encodeSBOMs bool) error {
	start := time.Now()
	layers := catalog.NewLayerCache()
	analyse := func(ctx context.Context, p *platformScan) error {
		res, err := catalog.RunShared(ctx, p.target, cfg.SBOMGenerator, version.String(), cfg.Skip, layers)
		if err != nil {
			return action.External(fmt.Errorf("%s: %w", p.Platform, err))
		}
		p.res, p.Packages = res, res.Packages
		return nil
	}
	// Each SBOM is encoded as soon as its platform is analysed, beside
	// the next platform's analysis: encoding is much of a platform's cost.
	encode := func(p *platformScan) error {
		if !encodeSBOMs {
			return nil
		}
		var sbom bytes.Buffer
		if err := p.res.EncodeSBOM(&sbom, cfg.SBOMFormat); err != nil {
			return err
		}
		p.sbom = sbom.Bytes()
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelPlatforms)
	rest := ps
	if cfg.SBOMGenerator != catalog.Syft && sharesLayers(ps) {
		// The first platform alone, so the others find the layers they
		// share with it analysed.
		if err := analyse(ctx, ps[0]); err != nil {
			return err
		}
		g.Go(func() error { return encode(ps[0]) })
		rest = ps[1:]
	}
	for _, p := range rest {
		g.Go(func() error {
			if err := analyse(gctx, p); err != nil {
				return err
			}
			return encode(p)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	c.Logf("analysed %d platforms in %s", len(ps), time.Since(start).Round(time.Millisecond))
	return nil
}

// writePlatformSBOMs writes each platform's SBOM and returns the results
// joined, for the package count.
func writePlatformSBOMs(c *action.Context, cfg Config, ps []*platformScan) (*catalog.Result, error) {
	var results []*catalog.Result
	var files []string
	for _, p := range ps {
		if err := writeFile(p.SBOMFile, p.sbom); err != nil {
			return nil, action.UsageErr("sbom-file", err)
		}
		files = append(files, p.SBOMFile)
		results = append(results, p.res)
	}
	// The joined result only counts; each platform keeps its own.
	all := catalog.Joined(results)
	c.SetOutput("sbom-file", sbomFileOutput(ps))
	setSBOMFiles(c, files)
	c.SetReportData("sbom", map[string]any{"file": cfg.SBOMFile, "files": files, "format": cfg.SBOMFormat, "generator": cfg.SBOMGenerator, "packages": all.Packages})
	return all, nil
}

// sharesLayers says whether any two of the platforms' images have a
// layer in common. An unreadable manifest says no: the analysis reports it.
func sharesLayers(ps []*platformScan) bool {
	seen := map[v1.Hash]int{}
	for i, p := range ps {
		m, err := p.target.Image.Manifest()
		if err != nil {
			return false
		}
		for _, l := range m.Layers {
			if j, ok := seen[l.Digest]; ok && j != i {
				return true
			}
			seen[l.Digest] = i
		}
	}
	return false
}

// sbomFileOutput is the one SBOM file, or for several the name with
// {platform}, as the attest action reads it.
func sbomFileOutput(ps []*platformScan) string {
	if len(ps) == 1 {
		return ps[0].SBOMFile
	}
	return ps[0].pattern
}

func setSBOMFiles(c *action.Context, files []string) {
	data, _ := json.Marshal(files)
	c.SetOutput("sbom-files", string(data))
}

// gatePlatforms gates each platform and joins the findings: one entry per
// vulnerability, package and version, listing the platforms it is in.
func gatePlatforms(ctx context.Context, ps []*platformScan, cfg Config, gdb *grypematch.DB) ([]Vulnerability, error) {
	var out []Vulnerability
	at := map[string]int{}
	for _, p := range ps {
		extra, err := grypeMatch(ctx, gdb, p.res)
		if err != nil {
			return nil, err
		}
		vs, err := gate(ctx, p.res, cfg, extra...)
		if err != nil {
			return nil, err
		}
		p.vulns, p.Counts = vs, countBySeverity(vs)
		for _, v := range vs {
			key := strings.Join([]string{v.ID, v.Package, v.Installed, v.Path}, "\x00")
			if i, ok := at[key]; ok {
				if p.Platform != "" && !slices.Contains(out[i].Platforms, p.Platform) {
					out[i].Platforms = append(out[i].Platforms, p.Platform)
				}
				continue
			}
			if p.Platform != "" {
				v.Platforms = []string{p.Platform}
			}
			at[key] = len(out)
			out = append(out, v)
		}
	}
	sortVulns(out)
	return out, nil
}

// attachPlatformSBOMs attaches each platform's SBOM with that platform's
// manifest as subject, so it describes what it is attached to.
func attachPlatformSBOMs(c *action.Context, cfg Config, ps []*platformScan, now time.Time) error {
	if !cfg.AttachSBOM {
		return nil
	}
	for _, p := range ps {
		t := p.target
		ref, err := referrer.Push(referrer.Subject{Repo: t.Ref.Context(), Descriptor: t.Descriptor}, sbomMediaTypes[cfg.SBOMFormat], p.sbom,
			map[string]string{"org.opencontainers.image.created": now.UTC().Format(time.RFC3339)}, t.Options...)
		if err != nil {
			return action.External(fmt.Errorf("attaching the %s SBOM to %q: %w", p.Platform, t.Name, err))
		}
		p.SBOMRef = ref.String()
	}
	if len(ps) == 1 {
		c.SetOutput("sbom-ref", ps[0].SBOMRef)
	}
	return nil
}

// platformSummary is the per-platform table of the step summary.
func platformSummary(ps []*platformScan) string {
	var b strings.Builder
	b.WriteString("\n| Platform | Manifest | Packages | Critical | High | Medium | Low | Unknown |\n|---|---|---|---|---|---|---|---|\n")
	for _, p := range ps {
		k := p.Counts
		fmt.Fprintf(&b, "| %s | `%s` | %d | %d | %d | %d | %d | %d |\n", p.Platform, shortDigest(p.Digest), p.Packages,
			k["CRITICAL"], k["HIGH"], k["MEDIUM"], k["LOW"], k["UNKNOWN"])
	}
	return b.String()
}

func shortDigest(d string) string {
	if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return d[:len(d)-len(hex)+12]
	}
	return d
}
