package scan

import (
	"context"
	"slices"
	"time"

	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/package-url/packageurl-go"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/catalog"
	"github.com/gitops-actions/gitops-actions/internal/grypematch"
)

// Matchers the scanner input names.
const (
	Trivy = "trivy"
	Grype = "grype"
	Both  = "both"
)

func usesTrivy(cfg Config) bool { return cfg.Scanner != Grype }
func usesGrype(cfg Config) bool { return cfg.Scanner == Grype || cfg.Scanner == Both }

// openGrype makes grype's database ready in the shared cache-dir, as
// vulndb.Ensure does trivy's, and opens it.
func openGrype(ctx context.Context, c *action.Context, cfg Config, dir string, now time.Time) (*grypematch.DB, grypematch.Info, error) {
	opts := grypematch.Options{CacheDir: dir, URL: cfg.GrypeDBURL, Skip: cfg.SkipDBUpdate, Now: now}
	info, err := grypematch.Ensure(ctx, opts)
	if err != nil {
		return nil, info, action.External(err)
	}
	if info.Stale != nil {
		c.Warnf("grype database download failed, using the cached one built %s ago (%s): %v",
			age(info.Age(now)), info.Built.UTC().Format(time.RFC3339), info.Stale)
	} else if info.Downloaded {
		c.Logf("grype database downloaded from %s (built %s)", info.Source, info.Built.UTC().Format(time.RFC3339))
	}
	db, err := grypematch.Open(opts)
	if err != nil {
		return nil, info, action.External(err)
	}
	return db, info, nil
}

// grypeMark marks a detected vulnerability as grype's, with the IDs grype
// relates to it (a GHSA's CVE), so the union can pair it with trivy's.
type grypeMark struct{ aliases []string }

// grypeResult carries grype's findings in trivy's result model, so the
// ignore file, VEX documents and ignore-unfixed apply to them as to
// trivy's. A finding grype has no fixed version for has an empty
// FixedVersion: ignore-unfixed drops it, as grype's only-fixed does.
func grypeResult(fs []grypematch.Finding) types.Result {
	r := types.Result{Target: "grype", Class: types.ClassLangPkg, Type: ftypes.LangType(Grype)}
	for _, f := range fs {
		var id ftypes.PkgIdentifier
		if p, err := packageurl.FromString(f.PURL); err == nil {
			id.PURL = &p
		}
		r.Vulnerabilities = append(r.Vulnerabilities, types.DetectedVulnerability{
			VulnerabilityID: f.ID, PkgName: f.Package, PkgPath: f.Path, PkgIdentifier: id,
			InstalledVersion: f.Version, FixedVersion: f.Fixed, PrimaryURL: f.URL,
			Custom: grypeMark{aliases: f.Aliases},
			Vulnerability: dbtypes.Vulnerability{
				Title: f.Title, Description: f.Description, Severity: f.Severity, References: f.URLs,
				CVSS: dbtypes.VendorCVSS{"grype": {V3Score: f.Score}},
			},
		})
	}
	return r
}

// scannerOf is the matcher that detected v.
func scannerOf(v types.DetectedVulnerability) (string, []string) {
	if m, ok := v.Custom.(grypeMark); ok {
		return Grype, m.aliases
	}
	return Trivy, nil
}

// union merges what both matchers found: a grype finding with the ID of a
// trivy finding (or one grype relates to it) in the same package is one
// finding found by both; trivy's record of it is kept.
func union(vs []Vulnerability, grypeAliases map[int][]string) []Vulnerability {
	// By name and version, not purl: the two spell qualifiers differently.
	key := func(id string, v Vulnerability) string { return id + "\x00" + v.Package + "\x00" + v.Installed }
	seen := map[string]int{}
	var out []Vulnerability
	for i, v := range vs {
		if !slices.Contains(v.Scanners, Grype) {
			seen[key(v.ID, v)] = len(out)
			out = append(out, v)
			continue
		}
		merged := false
		for _, id := range append([]string{v.ID}, grypeAliases[i]...) {
			if j, ok := seen[key(id, v)]; ok && !slices.Contains(out[j].Scanners, Grype) {
				out[j].Scanners = append(out[j].Scanners, Grype)
				out[j].Aliases = aliasIDs(out[j].ID, slices.Concat(out[j].Aliases, []string{v.ID}, v.Aliases))
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, v)
		}
	}
	return out
}

// grypeMatch is grype's findings on res's package list, as the extra
// result gate joins with trivy's; none when grype is not a matcher.
func grypeMatch(ctx context.Context, gdb *grypematch.DB, res *catalog.Result) ([]types.Result, error) {
	if gdb == nil {
		return nil, nil
	}
	fs, err := gdb.Match(ctx, res.SyftSBOM())
	if err != nil {
		return nil, action.External(err)
	}
	return []types.Result{grypeResult(fs)}, nil
}
