package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/anchore/stereoscope"
	stimage "github.com/anchore/stereoscope/pkg/image"
	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/cataloging"
	"github.com/anchore/syft/syft/sbom"
	"github.com/anchore/syft/syft/source"
	"github.com/anchore/syft/syft/source/directorysource"
	"github.com/anchore/syft/syft/source/stereoscopesource"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	sbomartifact "github.com/aquasecurity/trivy/pkg/fanal/artifact/sbom"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/gitops-actions/gitops-actions/internal/target"
)

// runSyft catalogs with syft, then hands syft's own CycloneDX document to
// trivy's SBOM artifact for matching: trivy reads syft's purls and its
// operating-system component, and each vulnerability keeps the bom-ref of
// the syft package it was found in, so its purl is looked up in syft's
// document rather than re-derived.
func runSyft(ctx context.Context, t *target.Target, toolVersion string, skip Skip) (*Result, error) {
	src, cleanup, err := syftSource(ctx, t, skip)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// The RPM sqlite cataloger needs a SQL driver (modernc.org/sqlite) that
	// would double this binary's build time; trivy's generator covers RPM
	// images.
	cfg := syft.DefaultCreateSBOMConfig().WithTool("gitops-actions scan", toolVersion).
		WithCatalogerSelection(cataloging.NewSelectionRequest().WithRemovals("rpm-db-cataloger"))
	s, err := syft.CreateSBOM(ctx, src, cfg)
	if err != nil {
		return nil, fmt.Errorf("cataloging %q with syft: %w", t.Name, err)
	}
	var doc bytes.Buffer
	if err := encodeSyft(&doc, CycloneDXJSON, s); err != nil {
		return nil, err
	}
	purls, err := bomRefs(doc.Bytes())
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp("", "scan-sbom-*.cdx.json")
	if err != nil {
		return nil, fmt.Errorf("writing syft's SBOM for matching: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(doc.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing syft's SBOM for matching: %w", err)
	}
	c := cache.NewMemoryCache()
	art, err := sbomartifact.NewArtifact(tmp.Name(), c, artifact.Option{NoProgress: true, Offline: true})
	if err != nil {
		return nil, fmt.Errorf("reading syft's SBOM for matching: %w", err)
	}
	rep, err := detect(ctx, c, art)
	if err != nil {
		return nil, err
	}
	r := &Result{Report: rep, Packages: s.Artifacts.Packages.PackageCount(), purls: purls}
	r.encode = func(w io.Writer, format string) error { return encodeSyft(w, format, s) }
	r.syft = func() *sbom.SBOM { return s }
	return r, nil
}

func syftSource(ctx context.Context, t *target.Target, skip Skip) (source.Source, func(), error) {
	if t.Kind == target.Directory {
		// syft follows links, even out of the directory: exclude those.
		exclude := skip.syftExcludes("./")
		for _, l := range t.Outside {
			exclude = append(exclude, "./"+globEscaper.Replace(l.Path))
		}
		src, err := directorysource.New(directorysource.Config{Path: t.Dir, Exclude: source.ExcludeConfig{Paths: exclude}})
		if err != nil {
			return nil, nil, fmt.Errorf("opening %q for syft: %w", t.Dir, err)
		}
		return src, func() { src.Close() }, nil
	}
	// syft reads images through stereoscope, which would pull again; give it
	// an OCI layout written from the image already opened instead.
	dir, err := os.MkdirTemp("", "scan-syft-")
	if err != nil {
		return nil, nil, fmt.Errorf("staging the image for syft: %w", err)
	}
	rm := func() { os.RemoveAll(dir) }
	lp, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err == nil {
		err = lp.AppendImage(t.Image)
	}
	if err != nil {
		rm()
		return nil, nil, fmt.Errorf("staging %q for syft: %w", t.Name, err)
	}
	img, err := stereoscope.GetImageFromSource(ctx, filepath.Join(dir, "oci"), stimage.OciDirectorySource)
	if err != nil {
		rm()
		return nil, nil, fmt.Errorf("opening %q for syft: %w", t.Name, err)
	}
	src := stereoscopesource.New(img, stereoscopesource.ImageConfig{Reference: t.Name, Exclude: source.ExcludeConfig{Paths: skip.syftExcludes("/")}})
	return src, func() { src.Close(); img.Cleanup(); rm() }, nil
}

// globEscaper quotes the characters syft's exclusion globs give a meaning.
var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`, `{`, `\{`, `}`, `\}`)

// bomRefs maps each component's bom-ref to its purl in a CycloneDX JSON
// document.
func bomRefs(doc []byte) (map[string]string, error) {
	var bom struct {
		Components []struct {
			BOMRef string `json:"bom-ref"`
			PURL   string `json:"purl"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &bom); err != nil {
		return nil, fmt.Errorf("reading syft's CycloneDX document: %w", err)
	}
	m := make(map[string]string, len(bom.Components))
	for _, c := range bom.Components {
		if c.PURL != "" {
			m[c.BOMRef] = c.PURL
		}
	}
	return m, nil
}
