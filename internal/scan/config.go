package scan

import (
	"net/url"
	"slices"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/catalog"
)

// severities are trivy's, most severe first.
var severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}

// Config is the scan action's parsed inputs.
type Config struct {
	ImageRef         string
	Input            string
	Path             string
	RegistryUsername string
	RegistryPassword string
	SBOMGenerator    string
	SBOMFormat       string
	SBOMFile         string
	Severity         []string
	FailOn           string
	IgnoreUnfixed    bool
	IgnoreFile       string
	VEX              []string
	DBRepository     []string
	CacheDir         string
	SkipDBUpdate     bool
	AttachSBOM       bool
	// Vulnerabilities false makes an SBOM only, with no database.
	Vulnerabilities bool
	SARIFFile       string
	// SBOM is a file to rescan, or "attached" for image-ref's SBOM
	// referrer; nothing is pulled then.
	SBOM string
	// Scanner is the matcher: trivy, grype or both (the union).
	Scanner    string
	GrypeDBURL string
	// Platforms of an index to analyse; empty is every one.
	Platforms []string
	// SBOMFileSet is whether sbom-file was given rather than defaulted.
	SBOMFileSet bool
	// Baseline is a report or SARIF file, or an image reference, whose
	// vulnerabilities fail-on does not count.
	Baseline string
	// Skip are the skip-dirs and skip-files globs, cleaned.
	Skip catalog.Skip
}

// ParseConfig turns inputs into a Config; it does no I/O.
func ParseConfig(in *action.Inputs) (Config, error) {
	c := Config{
		ImageRef:         in.String("image-ref"),
		Input:            in.String("input"),
		Path:             in.String("path"),
		RegistryUsername: in.String("registry-username"),
		RegistryPassword: in.Secret("registry-password"),
		SBOMGenerator:    in.OneOf("sbom-generator", "trivy", "syft"),
		SBOMFormat:       in.OneOf("sbom-format", "spdx-json", "cyclonedx-json", "syft-json"),
		SBOMFile:         in.String("sbom-file"),
		Severity:         in.List("severity"),
		FailOn:           in.OneOf("fail-on", "CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN", "none"),
		IgnoreUnfixed:    in.Bool("ignore-unfixed"),
		IgnoreFile:       in.String("ignore-file"),
		VEX:              in.List("vex"),
		DBRepository:     in.List("db-repository"),
		CacheDir:         in.String("cache-dir"),
		SkipDBUpdate:     in.Bool("skip-db-update"),
		AttachSBOM:       in.Bool("attach-sbom"),
		Vulnerabilities:  in.Bool("vulnerabilities"),
		SARIFFile:        in.String("sarif-file"),
		SBOM:             in.String("sbom"),
		Scanner:          in.OneOf("scanner", Trivy, Grype, Both),
		GrypeDBURL:       in.String("grype-db-url"),
		Platforms:        in.List("platforms"),
		SBOMFileSet:      in.IsSet("sbom-file"),
		Baseline:         in.String("baseline"),
	}
	n := 0
	for _, v := range []string{c.ImageRef, c.Input, c.Path} {
		if v != "" {
			n++
		}
	}
	if c.SBOM != "" {
		checkSBOMInput(in, c)
	} else if n != 1 {
		in.Fail("image-ref", "give exactly one of image-ref, input or path")
	}
	for i, s := range c.Severity {
		c.Severity[i] = strings.ToUpper(s)
		if !slices.Contains(severities, c.Severity[i]) {
			in.Fail("severity", "%q is not one of %s", s, strings.Join(severities, ", "))
		}
	}
	if u, err := url.Parse(c.GrypeDBURL); c.GrypeDBURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		in.Fail("grype-db-url", "%q is not an http(s) URL of grype's database listing", c.GrypeDBURL)
	}
	checkPlatforms(in, c)
	if c.Baseline != "" && !c.Vulnerabilities {
		in.Fail("baseline", "compares vulnerabilities; vulnerabilities: false matches none")
	}
	c.Skip = catalog.Skip{Dirs: skipPatterns(in, "skip-dirs", c), Files: skipPatterns(in, "skip-files", c)}
	if c.AttachSBOM && c.ImageRef == "" {
		in.Fail("attach-sbom", "needs image-ref: the SBOM is attached to the image in its registry")
	}
	return c, nil
}

// skipPatterns reads a skip-dirs or skip-files input. A rescan reads no
// file, so there is nothing to skip in it.
func skipPatterns(in *action.Inputs, name string, c Config) []string {
	var out []string
	for _, p := range in.List(name) {
		clean, err := catalog.CleanSkipPattern(p)
		if err != nil {
			in.Fail(name, "%v", err)
			continue
		}
		out = append(out, clean)
	}
	if len(out) > 0 && c.SBOM != "" {
		in.Fail(name, "skips paths of what is analysed; a rescan (sbom) matches the SBOM as it is")
	}
	return out
}
