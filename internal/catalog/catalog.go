package catalog

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/anchore/syft/syft/sbom"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	"github.com/aquasecurity/trivy/pkg/fanal/applier"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	imageartifact "github.com/aquasecurity/trivy/pkg/fanal/artifact/image"
	localartifact "github.com/aquasecurity/trivy/pkg/fanal/artifact/local"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/fanal/walker"
	"github.com/aquasecurity/trivy/pkg/scan"
	"github.com/aquasecurity/trivy/pkg/scan/langpkg"
	"github.com/aquasecurity/trivy/pkg/scan/local"
	"github.com/aquasecurity/trivy/pkg/scan/ospkg"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/vulnerability"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	dbtypes "github.com/aquasecurity/trivy-db/pkg/db"
	dbsrc "github.com/aquasecurity/trivy-db/pkg/types"

	"github.com/gitops-actions/gitops-actions/internal/target"
)

// Generators that can list packages.
const (
	Trivy = "trivy"
	Syft  = "syft"
)

// Result is one analysis: trivy's report (packages and the vulnerabilities
// matched against them) and the SBOM of the same package list.
type Result struct {
	Report   types.Report
	Packages int // packages in the SBOM
	encode   func(w io.Writer, format string) error
	purls    map[string]string // bom-ref → purl as written in the SBOM
	paths    map[string]string // bom-ref → the package's own file, where trivy does not know it
	syft     func() *sbom.SBOM
}

// SyftSBOM is the package list in syft's model: syft's own catalog when
// syft made it, else trivy's packages carried over (purls, source
// packages and the distribution unchanged), for another matcher.
func (r *Result) SyftSBOM() *sbom.SBOM { return r.syft() }

// EncodeSBOM writes the SBOM as spdx-json, cyclonedx-json or syft-json.
func (r *Result) EncodeSBOM(w io.Writer, format string) error { return r.encode(w, format) }

// PURL is the purl of v's package exactly as the SBOM spells it.
func (r *Result) PURL(v types.DetectedVulnerability) string {
	if p, ok := r.purls[v.PkgIdentifier.BOMRef]; ok {
		return p
	}
	if v.PkgIdentifier.PURL != nil {
		return v.PkgIdentifier.PURL.String()
	}
	return ""
}

// FilePath is the file v's package was found in: trivy's, else the one a
// rescanned SBOM recorded where trivy does not read it.
func (r *Result) FilePath(v types.DetectedVulnerability) string {
	if v.PkgPath != "" {
		return v.PkgPath
	}
	return strings.TrimPrefix(r.paths[v.PkgIdentifier.BOMRef], "/")
}

// Run analyses t once with the generator and matches the packages against
// the vulnerability database, which must be open (vulndb.Open). Paths skip
// names are not read.
func Run(ctx context.Context, t *target.Target, generator, toolVersion string, skip Skip) (*Result, error) {
	switch generator {
	case Syft:
		return runSyft(ctx, t, toolVersion, skip)
	default:
		return runTrivy(ctx, t, toolVersion, skip)
	}
}

// scanOptions match OS and language packages and keep the full package
// list in the results, which the SBOM is made from.
func scanOptions() types.ScanOptions {
	return types.ScanOptions{
		PkgTypes:         []string{types.PkgTypeOS, types.PkgTypeLibrary},
		PkgRelationships: ftypes.Relationships,
		Scanners:         types.Scanners{types.VulnerabilityScanner},
		// trivy's default: the distribution's own severity, then GHSA, then NVD.
		VulnSeveritySources: []dbsrc.SourceID{"auto"},
	}
}

// detect runs trivy's detectors over what art yields.
func detect(ctx context.Context, c cache.Cache, art artifact.Artifact) (types.Report, error) {
	svc := scan.NewService(local.NewService(applier.NewApplier(c), ospkg.NewScanner(), langpkg.NewScanner(), vulnerability.NewClient(dbtypes.Config{})), art)
	rep, err := svc.ScanArtifact(ctx, scanOptions())
	if err != nil {
		return types.Report{}, fmt.Errorf("matching packages against the vulnerability database: %w", err)
	}
	return rep, nil
}

// alwaysOff are analyzers the trivy CLI also leaves off unless asked:
// executables are looked up in Rekor (network), the rest find what this
// action does not report. The misconfiguration analyzers (Dockerfile,
// Kubernetes, Terraform...) are registered by packages trivy links in
// anyway; left on, a directory with a Dockerfile compiles trivy's whole
// Rego policy bundle (seconds) for nothing.
var alwaysOff = append([]analyzer.Type{analyzer.TypeExecutable, analyzer.TypeRpmArchive, analyzer.TypeApkCommand,
	analyzer.TypeSecret, analyzer.TypeLicenseFile, analyzer.TypeHistoryDockerfile}, analyzer.TypeConfigFiles...)

// LayerCache holds trivy's analysis of image layers by digest; runs that
// share it analyse a layer common to their images once.
type LayerCache struct{ c cache.Cache }

// NewLayerCache is an empty LayerCache, held in memory.
func NewLayerCache() *LayerCache { return &LayerCache{c: cache.NewMemoryCache()} }

// RunShared is Run with trivy's layer analyses kept in lc. syft analyses
// each image by itself, so lc only serves the trivy generator.
func RunShared(ctx context.Context, t *target.Target, generator, toolVersion string, skip Skip, lc *LayerCache) (*Result, error) {
	if generator == Syft || lc == nil {
		return Run(ctx, t, generator, toolVersion, skip)
	}
	return runTrivyCache(ctx, t, toolVersion, skip, lc.c)
}

func runTrivy(ctx context.Context, t *target.Target, toolVersion string, skip Skip) (*Result, error) {
	return runTrivyCache(ctx, t, toolVersion, skip, cache.NewMemoryCache())
}

func runTrivyCache(ctx context.Context, t *target.Target, toolVersion string, skip Skip, c cache.Cache) (*Result, error) {
	opt := artifact.Option{NoProgress: true, Parallel: 5, Offline: true}
	var art artifact.Artifact
	var err error
	switch t.Kind {
	case target.Directory:
		// As `trivy fs`: lock files, not installed-package metadata.
		opt.DisabledAnalyzers = append(slices.Clone(analyzer.TypeIndividualPkgs), alwaysOff...)
		if opt.WalkerOption, err = skip.dirWalker(t.Dir); err != nil {
			return nil, fmt.Errorf("preparing the analysis of %q: %w", t.Name, err)
		}
		art, err = localartifact.NewArtifact(t.Dir, c, walker.NewFS(), opt)
	default:
		// As `trivy image`: what is installed, not lock files.
		opt.DisabledAnalyzers = append(slices.Clone(analyzer.TypeLockfiles), alwaysOff...)
		opt.WalkerOption = skip.layerWalker()
		art, err = imageartifact.NewArtifact(newImage(t), c, opt)
	}
	if err != nil {
		return nil, fmt.Errorf("preparing the analysis of %q: %w", t.Name, err)
	}
	rep, err := detect(ctx, c, art)
	if err != nil {
		return nil, fmt.Errorf("analysing %q: %w", t.Name, err)
	}
	n := 0
	for _, res := range rep.Results {
		n += len(res.Packages)
	}
	r := &Result{Report: rep, Packages: n}
	r.encode = func(w io.Writer, format string) error { return encodeTrivy(ctx, w, format, rep, toolVersion) }
	r.syft = func() *sbom.SBOM { return syftFromTrivy(packagesOnly(rep), toolVersion) }
	return r, nil
}

// image gives trivy's analyzers the image go-containerregistry opened, so
// layers come from the one pull.
type image struct {
	v1.Image
	name        string
	repoTags    []string
	repoDigests []string
}

func newImage(t *target.Target) ftypes.Image {
	img := &image{Image: t.Image, name: t.Name}
	if t.Ref != nil {
		if tag, ok := t.Ref.(name.Tag); ok {
			img.repoTags = []string{tag.String()}
		}
		img.repoDigests = []string{t.Ref.Context().Digest(t.Digest.String()).String()}
	}
	return img
}

func (i *image) Name() string { return i.name }
func (i *image) ID() (string, error) {
	h, err := i.ConfigName()
	if err != nil {
		return "", fmt.Errorf("reading the image config digest: %w", err)
	}
	return h.String(), nil
}
func (i *image) RepoTags() []string    { return i.repoTags }
func (i *image) RepoDigests() []string { return i.repoDigests }
