package scan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/grypematch"
	"github.com/gitops-actions/gitops-actions/internal/report"
	"github.com/gitops-actions/gitops-actions/internal/version"
	"github.com/gitops-actions/gitops-actions/internal/vulndb"
)

// securitySeverity is what code scanning ranks a rule by when the
// advisory carries no CVSS score.
var securitySeverity = map[string]float64{"CRITICAL": 9.5, "HIGH": 8.0, "MEDIUM": 5.5, "LOW": 2.0, "UNKNOWN": 0.0}

// sarif renders vs as SARIF 2.1.0: one rule per vulnerability ID whose
// help lists every affected package with its fixed version. Results point
// at the Dockerfile when the context has one, else at the package.
func sarif(vs []Vulnerability, dockerfile string) ([]byte, error) {
	rules := map[string]report.Rule{}
	byID := map[string][]Vulnerability{}
	var order []string
	for _, v := range vs {
		if _, ok := byID[v.ID]; !ok {
			order = append(order, v.ID)
		}
		byID[v.ID] = append(byID[v.ID], v)
	}
	for _, id := range order {
		group := byID[id]
		v := group[0]
		var help strings.Builder
		fmt.Fprintf(&help, "**%s** (%s)", id, v.Severity)
		if v.Title != "" {
			fmt.Fprintf(&help, ": %s", v.Title)
		}
		help.WriteString("\n\n")
		if v.Description != "" {
			help.WriteString(v.Description + "\n\n")
		}
		help.WriteString("| Package | Installed | Fixed version |\n|---|---|---|\n")
		for _, g := range group {
			fixed := g.Fixed
			if fixed == "" {
				fixed = "no fix yet"
			}
			fmt.Fprintf(&help, "| %s | %s | %s |\n", g.PURL, g.Installed, fixed)
		}
		if v.URL != "" {
			fmt.Fprintf(&help, "\n%s\n", v.URL)
		}
		sev := v.Score
		if sev == 0 {
			sev = securitySeverity[v.Severity]
		}
		short := v.Title
		if short == "" {
			short = fmt.Sprintf("%s in %s", id, v.Package)
		}
		var scanners []string
		for _, g := range group {
			for _, sc := range g.Scanners {
				if !slices.Contains(scanners, sc) {
					scanners = append(scanners, sc)
				}
			}
		}
		slices.Sort(scanners)
		props := map[string]any{
			"security-severity": fmt.Sprintf("%.1f", sev),
			"tags":              []string{"security", "vulnerability", v.Severity},
			"scanners":          scanners,
		}
		if ps := groupPlatforms(group); len(ps) > 0 {
			props["platforms"] = ps
		}
		rules[id] = report.Rule{ID: id, ShortDescription: short, Help: help.String(), HelpURI: v.URL, Properties: props}
	}
	fs := findings(vs)
	if dockerfile != "" {
		for i := range fs {
			fs[i].Message = fmt.Sprintf("%s (in %s)", fs[i].Message, fs[i].File)
			fs[i].File, fs[i].Line = dockerfile, 1
		}
	}
	return report.SARIF(report.Tool{Name: "gitops-actions scan", Version: version.String(), InformationURI: "https://github.com/gitops-actions/gitops-actions"}, rules, fs, "")
}

// summary is the step summary: counts, the top findings with their fix,
// database age and SBOM size.
func summary(counts map[string]int, vs []Vulnerability, db vulndb.Info, now time.Time, packages int, cfg Config) string {
	var b strings.Builder
	b.WriteString("### scan\n\n| Critical | High | Medium | Low | Unknown |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d |\n\n", counts["CRITICAL"], counts["HIGH"], counts["MEDIUM"], counts["LOW"], counts["UNKNOWN"])
	if len(vs) > 0 {
		both := cfg.Scanner == Both
		if both {
			b.WriteString("| Severity | Vulnerability | Package | Installed → Fixed | Found by |\n|---|---|---|---|---|\n")
		} else {
			b.WriteString("| Severity | Vulnerability | Package | Installed → Fixed |\n|---|---|---|---|\n")
		}
		top := vs[:min(len(vs), 10)]
		for _, v := range top {
			fixed := v.Fixed
			if fixed == "" {
				fixed = "no fix yet"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s → %s |", v.Severity, v.ID, cellText(v.Package), cellText(v.Installed), cellText(fixed))
			if both {
				fmt.Fprintf(&b, " %s |", strings.Join(v.Scanners, ", "))
			}
			b.WriteString("\n")
		}
		if len(vs) > len(top) {
			fmt.Fprintf(&b, "\n…and %d more in the report.\n", len(vs)-len(top))
		}
		b.WriteString("\n")
	}
	if usesTrivy(cfg) {
		fmt.Fprintf(&b, "Vulnerability database built %s (%s ago)", db.UpdatedAt.UTC().Format(time.RFC3339), age(db.Age(now)))
		if db.Stale != nil {
			b.WriteString(", **download failed: cached copy used**")
		}
		b.WriteString(". ")
	}
	fmt.Fprintf(&b, "SBOM: %d packages (%s, %s) in `%s`.\n", packages, cfg.SBOMFormat, cfg.SBOMGenerator, cfg.SBOMFile)
	return b.String()
}

// groupPlatforms are the platforms any of group is in, in order seen.
func groupPlatforms(group []Vulnerability) []string {
	var out []string
	for _, g := range group {
		for _, p := range g.Platforms {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func cellText(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func lower(s string) string { return strings.ToLower(s) }

// grypeSummary is the line on grype's database, when grype matched.
func grypeSummary(cfg Config, info grypematch.Info, now time.Time) string {
	if !cfg.Vulnerabilities || !usesGrype(cfg) {
		return ""
	}
	line := fmt.Sprintf("grype database (schema %s) built %s (%s ago)", info.Schema, info.Built.UTC().Format(time.RFC3339), age(info.Age(now)))
	if info.Stale != nil {
		line += ", **download failed: cached copy used**"
	}
	return line + ".\n"
}
