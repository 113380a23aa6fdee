package grypematch

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/anchore/grype/grype"
	"github.com/anchore/grype/grype/distro"
	"github.com/anchore/grype/grype/match"
	"github.com/anchore/grype/grype/matcher"
	"github.com/anchore/grype/grype/matcher/dpkg"
	"github.com/anchore/grype/grype/matcher/golang"
	"github.com/anchore/grype/grype/matcher/java"
	"github.com/anchore/grype/grype/matcher/rpm"
	"github.com/anchore/grype/grype/matcher/stock"
	"github.com/anchore/grype/grype/pkg"
	"github.com/anchore/grype/grype/version"
	"github.com/anchore/grype/grype/vulnerability"
	"github.com/anchore/syft/syft/format/syftjson"
	"github.com/anchore/syft/syft/sbom"
)

// Finding is one vulnerability grype matched in one package.
type Finding struct {
	ID          string
	Aliases     []string // related IDs grype gives (a GHSA's CVE)
	Severity    string   // CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN
	Package     string
	Version     string
	PURL        string
	Fixed       string // the first fixed version, when there is one
	FixState    string // grype's: fixed, not-fixed, wont-fix or unknown
	Path        string // where the package was found
	Namespace   string
	Title       string
	Description string
	URL         string
	URLs        []string
	Score       float64
}

// Match matches the packages of s with grype's default matchers, as the
// grype CLI does for `grype sbom:<file>`: s goes through grype's own SBOM
// reader, so purls, CPEs, the distribution and the upstream (source)
// packages are read exactly as grype reads them. Findings come sorted by
// ID, then purl.
func (d *DB) Match(ctx context.Context, s *sbom.SBOM) ([]Finding, error) {
	var doc bytes.Buffer
	if err := syftjson.NewFormatEncoder().Encode(&doc, *s); err != nil {
		return nil, fmt.Errorf("handing the package list to grype: %w", err)
	}
	pkgs, pkgCtx, _, err := pkg.ProvideFromReader(bytes.NewReader(doc.Bytes()), pkg.ProviderConfig{
		SynthesisConfig: pkg.SynthesisConfig{Distro: pkg.DistroConfig{FixChannels: distro.DefaultFixChannels()}},
	})
	if err != nil {
		return nil, fmt.Errorf("reading the package list into grype: %w", err)
	}
	m := grype.VulnerabilityMatcher{VulnerabilityProvider: d.provider, Matchers: matcher.NewDefaultMatchers(matcherConfig())}
	matches, _, err := m.FindMatchesContext(ctx, pkgs, pkgCtx)
	if err != nil {
		return nil, fmt.Errorf("matching packages with grype: %w", err)
	}
	var out []Finding
	for _, mt := range matches.Sorted() {
		f, err := d.finding(mt)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if a.ID != b.ID {
			return strings.Compare(a.ID, b.ID)
		}
		return strings.Compare(a.PURL, b.PURL)
	})
	return out, nil
}

// matcherConfig is the grype CLI's default: CPEs only for the JVM and
// packages with no ecosystem matcher.
func matcherConfig() matcher.Config {
	return matcher.Config{
		Java:   java.MatcherConfig{},
		Golang: golang.MatcherConfig{},
		Stock:  stock.MatcherConfig{UseCPEs: true},
		Dpkg:   dpkg.MatcherConfig{MissingEpochStrategy: version.MissingEpochStrategyZero},
		Rpm:    rpm.MatcherConfig{MissingEpochStrategy: version.MissingEpochStrategyAuto},
	}
}

func (d *DB) finding(m match.Match) (Finding, error) {
	v := m.Vulnerability
	meta := v.Metadata
	if meta == nil {
		var err error
		//lint:ignore SA1019 the grype CLI falls back to this too when a match carries no metadata.
		if meta, err = d.provider.VulnerabilityMetadata(v.Reference); err != nil { //nolint:staticcheck
			return Finding{}, fmt.Errorf("reading grype's record of %s: %w", v.ID, err)
		}
	}
	f := Finding{
		ID: v.ID, Package: m.Package.Name, Version: m.Package.Version, PURL: m.Package.PURL,
		FixState: string(v.Fix.State), Namespace: v.Namespace,
	}
	for _, r := range v.RelatedVulnerabilities {
		if r.ID != v.ID && !slices.Contains(f.Aliases, r.ID) {
			f.Aliases = append(f.Aliases, r.ID)
		}
	}
	if v.Fix.State == vulnerability.FixStateFixed && len(v.Fix.Versions) > 0 {
		f.Fixed = v.Fix.Versions[0]
	}
	if locs := m.Package.Locations.ToSlice(); len(locs) > 0 {
		f.Path = strings.TrimPrefix(locs[0].RealPath, "/")
	}
	f.Severity = "UNKNOWN"
	if meta != nil {
		f.Severity = Severity(meta.Severity)
		f.Description, f.URL, f.URLs = meta.Description, meta.DataSource, meta.URLs
		for _, c := range meta.Cvss {
			f.Score = max(f.Score, c.Metrics.BaseScore)
		}
	}
	return f, nil
}

// Severity maps grype's severities onto trivy's five: negligible is LOW,
// as trivy reads Debian's "unimportant".
func Severity(s string) string {
	switch strings.ToLower(s) {
	case "critical":
		return "CRITICAL"
	case "high":
		return "HIGH"
	case "medium":
		return "MEDIUM"
	case "low", "negligible":
		return "LOW"
	}
	return "UNKNOWN"
}
