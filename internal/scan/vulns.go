package scan

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/result"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/vex"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/catalog"
	"github.com/gitops-actions/gitops-actions/internal/ignorefile"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// Vulnerability is one entry of the report's vulnerabilities list.
type Vulnerability struct {
	ID          string   `json:"id"`
	Severity    string   `json:"severity"`
	Package     string   `json:"package"`
	PURL        string   `json:"purl"`
	Installed   string   `json:"installed"`
	Fixed       string   `json:"fixed,omitempty"`
	Path        string   `json:"path,omitempty"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"-"`
	URL         string   `json:"url,omitempty"`
	Score       float64  `json:"-"`
	References  []string `json:"-"`
	// Scanners are the matchers that found it (trivy, grype).
	Scanners []string `json:"scanners"`
	// Platforms of an index the vulnerability is in.
	Platforms []string `json:"platforms,omitempty"`
	// Aliases are other IDs of the same advisory (a CVE's GHSA, a GHSA's CVE).
	Aliases []string `json:"aliases,omitempty"`
	// Baseline is new or unchanged when a baseline was given; NewOn
	// lists the platforms it is new on when the baseline had it on others.
	Baseline string   `json:"baseline,omitempty"`
	NewOn    []string `json:"new-on,omitempty"`
}

// gate applies ignore-unfixed, the ignore file and the VEX documents to
// what was detected and returns what is left, most severe first.
// extra are results of another matcher (grype's), filtered the same way.
func gate(ctx context.Context, res *catalog.Result, cfg Config, extra ...types.Result) ([]Vulnerability, error) {
	rep := res.Report
	rep.Results = append(slices.Clone(rep.Results), extra...)
	for i := range rep.Results {
		r := &rep.Results[i]
		r.Vulnerabilities = slices.Clone(r.Vulnerabilities)
		if cfg.IgnoreUnfixed {
			r.Vulnerabilities = slices.DeleteFunc(r.Vulnerabilities, func(v types.DetectedVulnerability) bool { return v.FixedVersion == "" })
		}
	}
	var sources []vex.Source
	for _, f := range cfg.VEX {
		sources = append(sources, vex.Source{Type: vex.TypeFile, FilePath: f})
	}
	opts := result.FilterOptions{IgnoreFile: cfg.IgnoreFile, VEXSources: sources}
	for _, s := range severities {
		sev, _ := dbtypes.NewSeverity(s)
		opts.Severities = append(opts.Severities, sev)
	}
	if err := result.Filter(ctx, rep, opts); err != nil {
		if len(cfg.VEX) > 0 {
			return nil, action.UsageErr("vex", err)
		}
		return nil, action.UsageErr("ignore-file", err)
	}
	var out []Vulnerability
	aliases := map[int][]string{}
	for _, r := range rep.Results {
		for _, v := range r.Vulnerabilities {
			path := res.FilePath(v)
			if path == "" && r.Class == types.ClassOSPkg {
				path = osPackageDB(string(r.Type))
			}
			scanner, also := scannerOf(v)
			purl := res.PURL(v)
			if scanner == Grype && v.PkgIdentifier.PURL != nil {
				purl = v.PkgIdentifier.PURL.String()
			}
			if len(also) > 0 {
				aliases[len(out)] = also
			}
			out = append(out, Vulnerability{
				//lint:ignore SA1019 trivy fills Severity from the source VulnSeveritySources chose; VendorSeverity is the raw per-source map.
				ID: v.VulnerabilityID, Severity: severityOf(v.Severity), Package: v.PkgName, PURL: purl,
				Installed: v.InstalledVersion, Fixed: v.FixedVersion, Path: path, Title: v.Title,
				Description: v.Description, URL: v.PrimaryURL, Score: score(v), References: v.References,
				Scanners: []string{scanner}, Aliases: aliasIDs(v.VulnerabilityID, slices.Concat(v.VendorIDs, also)),
			})
		}
	}
	if len(extra) > 0 {
		out = union(out, aliases)
	}
	sortVulns(out)
	return out, nil
}

// sortVulns orders vs most severe first, then by ID and purl.
func sortVulns(out []Vulnerability) {
	slices.SortStableFunc(out, func(a, b Vulnerability) int {
		if d := rank(b.Severity) - rank(a.Severity); d != 0 {
			return d
		}
		if a.ID != b.ID {
			return strings.Compare(a.ID, b.ID)
		}
		return strings.Compare(a.PURL, b.PURL)
	})
}

func severityOf(s string) string {
	if s == "" {
		return "UNKNOWN"
	}
	return strings.ToUpper(s)
}

// rank is 5 for CRITICAL down to 1 for UNKNOWN.
func rank(sev string) int {
	i := slices.Index(severities, sev)
	if i < 0 {
		return 1
	}
	return len(severities) - i
}

func score(v types.DetectedVulnerability) float64 {
	best := 0.0
	for _, c := range v.CVSS {
		best = max(best, c.V3Score, c.V40Score, c.V2Score)
	}
	return best
}

// osPackageDB is where an OS package manager records what is installed:
// the file an OS package finding points at.
func osPackageDB(family string) string {
	switch family {
	case "debian", "ubuntu":
		return "var/lib/dpkg/status"
	case "alpine", "wolfi", "chainguard":
		return "lib/apk/db/installed"
	}
	return "var/lib/rpm/rpmdb.sqlite"
}

func countBySeverity(vs []Vulnerability) map[string]int {
	m := map[string]int{}
	for _, v := range vs {
		m[v.Severity]++
	}
	return m
}

func filterSeverity(vs []Vulnerability, keep []string) []Vulnerability {
	var out []Vulnerability
	for _, v := range vs {
		if slices.Contains(keep, v.Severity) {
			out = append(out, v)
		}
	}
	return out
}

// failing are the vulnerabilities at or above failOn.
func failing(vs []Vulnerability, failOn string) []Vulnerability {
	if failOn == "none" {
		return nil
	}
	var out []Vulnerability
	for _, v := range vs {
		if rank(v.Severity) >= rank(failOn) {
			out = append(out, v)
		}
	}
	return out
}

// level maps trivy severities onto finding severities.
func level(sev string) report.Severity {
	switch sev {
	case "CRITICAL", "HIGH":
		return report.Error
	case "MEDIUM":
		return report.Warning
	}
	return report.Notice
}

func (v Vulnerability) message() string {
	fix := "no fix yet"
	if v.Fixed != "" {
		fix = "fixed in " + v.Fixed
	}
	m := fmt.Sprintf("%s %s (%s): %s %s, %s", v.ID, v.Severity, v.PURL, v.Package, v.Installed, fix)
	if v.Title != "" {
		m += ": " + v.Title
	}
	if len(v.Scanners) > 1 || (len(v.Scanners) == 1 && v.Scanners[0] != Trivy) {
		m += " [found by " + strings.Join(v.Scanners, ", ") + "]"
	}
	if len(v.Platforms) > 0 {
		m += " [" + strings.Join(v.Platforms, ", ") + "]"
	}
	return m
}

func findings(vs []Vulnerability) []report.Finding {
	out := make([]report.Finding, 0, len(vs))
	for _, v := range vs {
		props := map[string]any{"package": v.Package, "purl": v.PURL, "installed": v.Installed, "severity": v.Severity}
		if v.Fixed != "" {
			props["fixed"] = v.Fixed
		}
		if len(v.Aliases) > 0 {
			props["aliases"] = v.Aliases
		}
		if len(v.Platforms) > 0 {
			props["platforms"] = v.Platforms
		}
		out = append(out, report.Finding{Source: report.SourceVulnerability, Rule: v.ID, Severity: level(v.Severity), File: v.Path, Message: v.message(),
			SARIF: &report.SARIFResult{BaselineState: v.Baseline, Properties: props}})
	}
	return out
}

// expiredEntries reads an ignore file (.trivyignore or its YAML form) and
// reports entries whose exp date has passed: they no longer ignore
// anything, and the team should decide again.
func expiredEntries(path string, now time.Time) ([]report.Finding, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	return ignorefile.Expired(path, data, now)
}
