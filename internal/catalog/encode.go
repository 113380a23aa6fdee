package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/anchore/syft/syft/file"
	"github.com/anchore/syft/syft/format/cyclonedxjson"
	"github.com/anchore/syft/syft/format/spdxjson"
	"github.com/anchore/syft/syft/format/syftjson"
	"github.com/anchore/syft/syft/linux"
	"github.com/anchore/syft/syft/pkg"
	"github.com/anchore/syft/syft/sbom"
	"github.com/anchore/syft/syft/source"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/sbom/core"
	"github.com/aquasecurity/trivy/pkg/sbom/cyclonedx"
	"github.com/aquasecurity/trivy/pkg/sbom/spdx"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/mitchellh/hashstructure/v2"
	spdxdoc "github.com/spdx/tools-golang/spdx"
)

// SBOM formats.
const (
	SPDXJSON      = "spdx-json"
	CycloneDXJSON = "cyclonedx-json"
	SyftJSON      = "syft-json"
)

// packagesOnly is rep without its vulnerabilities: an SBOM lists what is
// installed; the vulnerabilities go to the report and SARIF.
func packagesOnly(rep types.Report) types.Report {
	out := rep
	out.Results = make(types.Results, len(rep.Results))
	for i, r := range rep.Results {
		r.Vulnerabilities = nil
		out.Results[i] = r
	}
	return out
}

func encodeTrivy(ctx context.Context, w io.Writer, format string, rep types.Report, toolVersion string) error {
	rep = packagesOnly(rep)
	switch format {
	case SPDXJSON:
		files := map[string]string{}
		doc, err := spdx.NewMarshaler(toolVersion, spdx.WithHasher(fileRecorder(files))).MarshalReport(ctx, rep)
		if err != nil {
			return fmt.Errorf("encoding spdx-json: %w", err)
		}
		keepFilePaths(doc, files, toolVersion)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("encoding spdx-json: %w", err)
		}
		return nil
	case CycloneDXJSON:
		m := cyclonedx.NewMarshaler(toolVersion)
		bom, err := m.MarshalReport(ctx, rep)
		if err != nil {
			return fmt.Errorf("encoding cyclonedx-json: %w", err)
		}
		if err := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).Encode(bom); err != nil {
			return fmt.Errorf("encoding cyclonedx-json: %w", err)
		}
		return nil
	case SyftJSON:
		return encodeSyft(w, format, syftFromTrivy(rep, toolVersion))
	}
	return fmt.Errorf("unknown SBOM format %q", format)
}

func encodeSyft(w io.Writer, format string, s *sbom.SBOM) error {
	var enc sbom.FormatEncoder
	var err error
	switch format {
	case SPDXJSON:
		enc, err = spdxjson.NewFormatEncoderWithConfig(spdxjson.DefaultEncoderConfig())
	case CycloneDXJSON:
		enc, err = cyclonedxjson.NewFormatEncoderWithConfig(cyclonedxjson.DefaultEncoderConfig())
	case SyftJSON:
		enc = syftjson.NewFormatEncoder()
	default:
		return fmt.Errorf("unknown SBOM format %q", format)
	}
	if err != nil {
		return fmt.Errorf("preparing the %s encoder: %w", format, err)
	}
	if err := enc.Encode(w, *s); err != nil {
		return fmt.Errorf("encoding %s: %w", format, err)
	}
	return nil
}

// syftFromTrivy carries trivy's package list into syft's model, purls
// unchanged, so syft-json lists the same packages the other formats do.
func syftFromTrivy(rep types.Report, toolVersion string) *sbom.SBOM {
	var pkgs []pkg.Package
	for _, res := range rep.Results {
		for _, p := range res.Packages {
			purl := ""
			if p.Identifier.PURL != nil {
				purl = p.Identifier.PURL.String()
			}
			sp := pkg.Package{
				Name:    p.Name,
				Version: p.Version,
				FoundBy: "trivy-" + string(res.Type),
				PURL:    purl,
				Type:    pkg.TypeFromPURL(purl),
			}
			if p.Version != "" && p.Release != "" {
				sp.Version = p.Version + "-" + p.Release
			}
			if p.Epoch > 0 {
				sp.Version = fmt.Sprintf("%d:%s", p.Epoch, sp.Version)
			}
			if md := osMetadata(string(res.Type), p, sp.Version); md != nil {
				sp.Metadata = md
			}
			// The package's own file is its primary evidence; a package
			// with none is located at its result's target (a lock file, a
			// binary), which a rescan does not take for its path.
			loc := file.NewLocation(p.FilePath).WithAnnotation(pkg.EvidenceAnnotationKey, pkg.PrimaryEvidenceAnnotation)
			if p.FilePath == "" {
				loc = file.NewLocation(res.Target)
			}
			sp.Locations = file.NewLocationSet(loc)
			var lics []pkg.License
			for _, l := range p.Licenses {
				lics = append(lics, pkg.NewLicense(l))
			}
			sp.Licenses = pkg.NewLicenseSet(lics...)
			sp.SetID()
			pkgs = append(pkgs, sp)
		}
	}
	s := &sbom.SBOM{
		Artifacts:  sbom.Artifacts{Packages: pkg.NewCollection(pkgs...)},
		Descriptor: sbom.Descriptor{Name: "gitops-actions scan", Version: toolVersion},
		Source:     source.Description{Name: rep.ArtifactName},
	}
	if os := rep.Metadata.OS; os != nil {
		s.Artifacts.LinuxDistribution = &linux.Release{ID: string(os.Family), VersionID: os.Name, Name: string(os.Family)}
	}
	if rep.ArtifactType == "container_image" {
		md := source.ImageMetadata{UserInput: rep.ArtifactName, ID: rep.Metadata.ImageID, RepoDigests: rep.Metadata.RepoDigests, Tags: rep.Metadata.RepoTags}
		s.Source.Metadata = md
	} else {
		s.Source.Metadata = source.DirectoryMetadata{Path: rep.ArtifactName}
	}
	return s
}

// osMetadata is an OS package's database entry in syft's model, with the
// source package trivy read, so a matcher that looks advisories up by
// source package (as grype's do) sees what syft would have recorded.
func osMetadata(family string, p ftypes.Package, version string) any {
	src := p.SrcVersion
	if src != "" && p.SrcRelease != "" {
		src += "-" + p.SrcRelease
	}
	if src != "" && p.SrcEpoch > 0 {
		src = fmt.Sprintf("%d:%s", p.SrcEpoch, src)
	}
	switch family {
	case "debian", "ubuntu":
		e := pkg.DpkgDBEntry{Package: p.Name, Version: version, Architecture: p.Arch}
		// dpkg records a Source field only when it differs, as syft reads it.
		if p.SrcName != "" && (p.SrcName != p.Name || src != version) {
			e.Source, e.SourceVersion = p.SrcName, src
		}
		return e
	case "alpine", "wolfi", "chainguard":
		return pkg.ApkDBEntry{Package: p.Name, OriginPackage: p.SrcName, Version: version, Architecture: p.Arch}
	case "redhat", "centos", "rocky", "alma", "fedora", "amazon", "oracle":
		e := pkg.RpmDBEntry{Name: p.Name, Version: p.Version, Release: p.Release, Arch: p.Arch}
		if p.Epoch > 0 {
			e.Epoch = &p.Epoch
		}
		if p.SrcName != "" {
			e.SourceRpm = fmt.Sprintf("%s-%s-%s.src.rpm", p.SrcName, p.SrcVersion, p.SrcRelease)
		}
		return e
	}
	return nil
}

// fileRecorder is trivy's SPDX hasher, noting for each component it
// identifies the file it was found in when that file has no digest:
// trivy's SPDX encoder writes a file only with a digest, and leaves the
// path out of the annotations as written there.
func fileRecorder(files map[string]string) spdx.Hash {
	return func(v any, f hashstructure.Format, o *hashstructure.HashOptions) (uint64, error) {
		h, err := hashstructure.Hash(v, f, o)
		if c, ok := v.(*core.Component); ok && err == nil {
			for _, cf := range c.Files {
				if cf.Path != "" && len(cf.Digests) == 0 {
					files[strconv.FormatUint(h, 16)] = cf.Path
				}
			}
		}
		return h, err
	}
}

// keepFilePaths adds the FilePath annotation trivy reads back to each
// package of doc whose file fileRecorder noted, so a rescan of the SPDX
// document knows where an npm or Python package was found.
func keepFilePaths(doc *spdxdoc.Document, files map[string]string, toolVersion string) {
	for _, p := range doc.Packages {
		id := string(p.PackageSPDXIdentifier)
		path, ok := files[id[strings.LastIndex(id, "-")+1:]]
		if !ok {
			continue
		}
		p.Annotations = append(p.Annotations, spdxdoc.Annotation{
			AnnotationDate:    doc.CreationInfo.Created,
			AnnotationType:    spdxdoc.CategoryOther,
			Annotator:         spdxdoc.Annotator{Annotator: spdx.CreatorTool + "-" + toolVersion, AnnotatorType: spdx.PackageAnnotatorToolField},
			AnnotationComment: core.PropertyFilePath + ": " + path,
		})
	}
}
