package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	grypeversion "github.com/anchore/grype/grype/version"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/package-url/packageurl-go"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/catalog"
	"github.com/gitops-actions/gitops-actions/internal/grypematch"
	"github.com/gitops-actions/gitops-actions/internal/target"
	"github.com/gitops-actions/gitops-actions/internal/version"
)

// Baseline kinds: what the baseline input names.
const (
	baselineReport = "report" // this action's JSON report
	baselineSARIF  = "sarif"  // SARIF of this action, trivy or grype
	baselineImage  = "image"  // an image reference
)

// Baseline states of a vulnerability (SARIF 2.1.0's baselineState values).
const (
	stateNew       = "new"
	stateUnchanged = "unchanged"
)

// baselineEntry is one vulnerability of the baseline, whatever it was
// read from. Ecosystem is the purl type; empty when the source does not
// say (trivy's SARIF), and then any ecosystem matches.
type baselineEntry struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases,omitempty"`
	Severity  string   `json:"severity"`
	Package   string   `json:"package"`
	Ecosystem string   `json:"ecosystem,omitempty"`
	PURL      string   `json:"purl,omitempty"`
	Installed string   `json:"installed"`
	Fixed     string   `json:"fixed,omitempty"`
	Platforms []string `json:"platforms,omitempty"`
}

// baseline is a resolved baseline input.
type baseline struct {
	Source  string `json:"source"`
	Kind    string `json:"kind"`
	Format  string `json:"format"` // gitops-actions report or SARIF, trivy SARIF, grype SARIF, image SBOM, image scan
	entries []baselineEntry
}

// baselineKind tells what the baseline input names: an existing file
// first; else an image reference, which must carry a tag or a digest so
// that a mistyped path is not taken for an image.
func baselineKind(v string) (string, error) {
	if fi, err := os.Stat(v); err == nil {
		if fi.IsDir() {
			return "", fmt.Errorf("%q is a directory; give a JSON report or SARIF file, or an image reference", v)
		}
		return "file", nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading %q: %w", v, err)
	}
	if _, err := name.ParseReference(v, name.StrictValidation); err == nil {
		return baselineImage, nil
	}
	return "", fmt.Errorf("%q is no file and no image reference with a tag or digest (e.g. ghcr.io/acme/app:main)", v)
}

// readBaselineFile reads a baseline file: this action's JSON report or a
// SARIF log of this action, trivy or grype. Anything else, or a damaged
// file, is refused.
func readBaselineFile(path string) (*baseline, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, action.UsageErr("baseline", err)
	}
	b, err := decodeBaseline(data)
	if err != nil {
		return nil, action.UsageErr("baseline", fmt.Errorf("%s: %w", path, err))
	}
	b.Source = path
	return b, nil
}

func decodeBaseline(data []byte) (*baseline, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not a JSON report or SARIF file: it is not JSON (%v)", err)
	}
	top, _ := v.(map[string]any)
	switch {
	case top["runs"] != nil && top["version"] != nil:
		return decodeSARIFBaseline(data)
	case top["action"] != nil:
		return decodeReportBaseline(data)
	}
	return nil, errors.New("JSON of neither format: not this action's JSON report (no \"action\") nor SARIF (no \"version\" and \"runs\")")
}

// decodeReportBaseline reads the vulnerabilities of a scan report.
func decodeReportBaseline(data []byte) (*baseline, error) {
	var rep struct {
		Action          string          `json:"action"`
		Status          string          `json:"status"`
		Vulnerabilities json.RawMessage `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("a damaged report: %w", err)
	}
	if rep.Action != "scan" {
		return nil, fmt.Errorf("the report of the %q action, not of scan", rep.Action)
	}
	if len(rep.Vulnerabilities) == 0 || string(rep.Vulnerabilities) == "null" {
		return nil, fmt.Errorf("the report holds no vulnerability results (its status is %q)", rep.Status)
	}
	if bytes.HasPrefix(bytes.TrimSpace(rep.Vulnerabilities), []byte(`"`)) {
		return nil, errors.New("the report's scan matched no vulnerabilities (vulnerabilities: false)")
	}
	var vs []Vulnerability
	if err := json.Unmarshal(rep.Vulnerabilities, &vs); err != nil {
		return nil, fmt.Errorf("a damaged report: vulnerabilities: %w", err)
	}
	b := &baseline{Kind: baselineReport, Format: "gitops-actions report"}
	for i, v := range vs {
		if v.ID == "" || v.Package == "" || v.Installed == "" {
			return nil, fmt.Errorf("a damaged report: vulnerability %d has no id, package or installed version", i+1)
		}
		b.entries = append(b.entries, entryOf(v))
	}
	return b, nil
}

type sarifBaselineLog struct {
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name  string       `json:"name"`
				Rules []sarifBRule `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID     string         `json:"ruleId"`
			RuleIndex  *int           `json:"ruleIndex"`
			Message    sarifBText     `json:"message"`
			Properties map[string]any `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

type sarifBRule struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Help       *sarifBText    `json:"help"`
	Properties map[string]any `json:"properties"`
}

type sarifBText struct {
	Text string `json:"text"`
}

// SARIF tool names as each writes its driver.
const (
	sarifOurs  = "gitops-actions scan"
	sarifTrivy = "Trivy"
	sarifGrype = "grype"
)

var (
	// trivy's result message: "Package: x\nInstalled Version: y\nVulnerability ID\nSeverity: S\nFixed Version: f\n…".
	trivyMessage = regexp.MustCompile(`(?m)^Package: (.+)\nInstalled Version: (.+)\nVulnerability (\S+)\nSeverity: (\S+)\nFixed Version: (.*)$`)
	// grype's: "A High vulnerability in deb package: libc6, version 2.36-9 was found …".
	grypeMessage = regexp.MustCompile(`^A (\S+) vulnerability in (\S+) package: (.+), version (\S+) was found`)
	grypeFix     = regexp.MustCompile(`(?m)^Fix Version: (.*)$`)
)

// decodeSARIFBaseline reads the vulnerability results of a SARIF log this
// action, trivy or grype wrote. Results of trivy's other checks
// (misconfigurations, secrets, licenses) are not vulnerabilities and are
// left out.
func decodeSARIFBaseline(data []byte) (*baseline, error) {
	var log sarifBaselineLog
	if err := json.Unmarshal(data, &log); err != nil {
		return nil, fmt.Errorf("a damaged SARIF file: %w", err)
	}
	if log.Version != "2.1.0" {
		return nil, fmt.Errorf("SARIF version %q, want 2.1.0", log.Version)
	}
	if len(log.Runs) == 0 {
		return nil, errors.New("a SARIF file with no run")
	}
	b := &baseline{Kind: baselineSARIF}
	var tools []string
	for ri, run := range log.Runs {
		tool := run.Tool.Driver.Name
		if tool != sarifOurs && tool != sarifTrivy && tool != sarifGrype {
			return nil, fmt.Errorf("SARIF of %q; a baseline SARIF is one this action, trivy or grype wrote", tool)
		}
		tools = append(tools, tool)
		rules := run.Tool.Driver.Rules
		rule := func(id string, idx *int) int {
			if idx != nil && *idx >= 0 && *idx < len(rules) && rules[*idx].ID == id {
				return *idx
			}
			return slices.IndexFunc(rules, func(r sarifBRule) bool { return r.ID == id })
		}
		for i, res := range run.Results {
			where := fmt.Sprintf("run %d result %d", ri+1, i+1)
			if res.RuleID == "" {
				return nil, fmt.Errorf("a damaged SARIF file: %s has no ruleId", where)
			}
			var e baselineEntry
			switch tool {
			case sarifOurs:
				p := res.Properties
				e = baselineEntry{ID: res.RuleID, Package: str(p["package"]), PURL: str(p["purl"]), Installed: str(p["installed"]),
					Fixed: str(p["fixed"]), Severity: severityOf(str(p["severity"])), Aliases: strs(p["aliases"]), Platforms: strs(p["platforms"])}
				e.Ecosystem = purlType(e.PURL)
			case sarifTrivy:
				ri := rule(res.RuleID, res.RuleIndex)
				if ri >= 0 && !strings.HasSuffix(rules[ri].Name, "PackageVulnerability") {
					continue // a misconfiguration, secret or license
				}
				m := trivyMessage.FindStringSubmatch(res.Message.Text)
				if m == nil {
					return nil, fmt.Errorf("a damaged SARIF file: %s (%s) is not a trivy vulnerability message", where, res.RuleID)
				}
				e = baselineEntry{ID: m[3], Package: m[1], Installed: m[2], Severity: severityOf(m[4]), Fixed: m[5]}
			case sarifGrype:
				m := grypeMessage.FindStringSubmatch(res.Message.Text)
				if m == nil {
					return nil, fmt.Errorf("a damaged SARIF file: %s (%s) is not a grype vulnerability message", where, res.RuleID)
				}
				id, ok := strings.CutSuffix(res.RuleID, "-"+m[3])
				if !ok {
					return nil, fmt.Errorf("a damaged SARIF file: %s: rule %q does not end in its package %q", where, res.RuleID, m[3])
				}
				e = baselineEntry{ID: id, Package: m[3], Installed: m[4], Severity: severityOf(grypeSeverity(m[1])), Ecosystem: grypeEcosystem(m[2])}
				if ri := rule(res.RuleID, res.RuleIndex); ri >= 0 {
					if ps := strs(rules[ri].Properties["purls"]); len(ps) > 0 {
						e.PURL, e.Ecosystem = ps[0], purlType(ps[0])
					}
					if h := rules[ri].Help; h != nil {
						if f := grypeFix.FindStringSubmatch(h.Text); f != nil {
							e.Fixed = strings.TrimSpace(f[1])
						}
					}
				}
			}
			if e.ID == "" || e.Package == "" || e.Installed == "" {
				return nil, fmt.Errorf("a damaged SARIF file: %s (%s) names no package or installed version", where, res.RuleID)
			}
			b.entries = append(b.entries, e)
		}
	}
	slices.Sort(tools)
	b.Format = strings.Join(slices.Compact(tools), ", ") + " SARIF"
	return b, nil
}

// grypeEcosystem is the purl type of a syft package type, as grype's
// message names it.
func grypeEcosystem(t string) string {
	switch t {
	case "go-module":
		return packageurl.TypeGolang
	case "python":
		return packageurl.TypePyPi
	case "java-archive", "jenkins-plugin":
		return packageurl.TypeMaven
	case "rust-crate":
		return packageurl.TypeCargo
	case "dotnet":
		return packageurl.TypeNuget
	case "php-composer":
		return packageurl.TypeComposer
	}
	return t // deb, rpm, apk, npm, gem are their purl types
}

// grypeSeverity maps grype's negligible onto low, as the scan's grype
// matching does.
func grypeSeverity(s string) string {
	if strings.EqualFold(s, "negligible") {
		return "LOW"
	}
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// purlType is the ecosystem of a purl ("deb", "npm", "golang"), or "".
func purlType(purl string) string {
	p, err := packageurl.FromString(purl)
	if err != nil {
		return ""
	}
	return p.Type
}

// aliasIDs are the advisory IDs of ids that name the same advisory as id
// in another database: CVE, GHSA and Go's GO- IDs.
func aliasIDs(id string, ids []string) []string {
	var out []string
	for _, a := range ids {
		if a != id && !slices.Contains(out, a) && (strings.HasPrefix(a, "CVE-") || strings.HasPrefix(a, "GHSA-") || strings.HasPrefix(a, "GO-")) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// fixList splits a fixed-version field: trivy joins several with ", ".
func fixList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// sameRange says whether installed versions a and b of a package lie in
// the same affected range of one advisory whose fixed versions are fixes:
// equal, or no fix lies above the lower and at or below the higher. A bump
// that stays vulnerable to the same advisory is the same range; one that
// passes a fix and lands in another affected range is not. Versions the
// ecosystem's comparison cannot order count as different.
func sameRange(ecosystem, a, b string, fixes []string) bool {
	if a == b {
		return true
	}
	f := grypeversion.ParseFormat(ecosystem)
	if f == grypeversion.UnknownFormat {
		return false
	}
	lo, hi := grypeversion.New(a, f), grypeversion.New(b, f)
	c, err := lo.Compare(hi)
	if err != nil {
		return false
	}
	if c > 0 {
		lo, hi = hi, lo
	}
	for _, fix := range fixes {
		v := grypeversion.New(fix, f)
		above, err1 := v.Compare(lo)
		below, err2 := v.Compare(hi)
		if err1 != nil || err2 != nil {
			return false
		}
		if above > 0 && below <= 0 {
			return false
		}
	}
	return true
}

// matches says whether e is v: one of the IDs in common, the same package
// name and ecosystem (when both say), and the installed versions in the
// same affected range.
func (e baselineEntry) matches(v Vulnerability) bool {
	ids := append([]string{v.ID}, v.Aliases...)
	if !slices.Contains(ids, e.ID) && !slices.ContainsFunc(e.Aliases, func(a string) bool { return slices.Contains(ids, a) }) {
		return false
	}
	if e.Package != v.Package {
		return false
	}
	eco := purlType(v.PURL)
	if e.Ecosystem != "" && eco != "" && e.Ecosystem != eco {
		return false
	}
	if eco == "" {
		eco = e.Ecosystem
	}
	return sameRange(eco, e.Installed, v.Installed, slices.Concat(fixList(e.Fixed), fixList(v.Fixed)))
}

// compareBaseline marks each of vs new or unchanged against b and returns
// the baseline's vulnerabilities no longer found. A vulnerability of an
// index is unchanged only when the baseline had it on each of its
// platforms (a baseline entry of no platform, e.g. from a single image or
// trivy's SARIF, stands for every one); new on any platform is new, and
// NewOn lists those platforms.
func compareBaseline(vs []Vulnerability, b *baseline) []baselineEntry {
	used := make([]bool, len(b.entries))
	for i := range vs {
		v := &vs[i]
		found, all := false, false
		var covered []string
		for j, e := range b.entries {
			if !e.matches(*v) {
				continue
			}
			used[j], found = true, true
			if len(e.Platforms) == 0 {
				all = true
			}
			covered = append(covered, e.Platforms...)
		}
		v.Baseline, v.NewOn = stateNew, nil
		switch {
		case !found:
		case all || len(v.Platforms) == 0:
			v.Baseline = stateUnchanged
		default:
			for _, p := range v.Platforms {
				if !slices.Contains(covered, p) {
					v.NewOn = append(v.NewOn, p)
				}
			}
			if len(v.NewOn) == 0 {
				v.Baseline = stateUnchanged
			} else if len(v.NewOn) == len(v.Platforms) {
				v.NewOn = nil
			}
		}
	}
	var fixed []baselineEntry
	seen := map[string]bool{}
	for j, e := range b.entries {
		key := strings.Join([]string{e.ID, e.Package, e.Ecosystem, e.Installed}, "\x00")
		if used[j] || seen[key] {
			continue
		}
		seen[key] = true
		fixed = append(fixed, e)
	}
	slices.SortStableFunc(fixed, func(a, b baselineEntry) int {
		if d := rank(b.Severity) - rank(a.Severity); d != 0 {
			return d
		}
		return strings.Compare(a.ID+"\x00"+a.Package, b.ID+"\x00"+b.Package)
	})
	return fixed
}

// newOnes are the vulnerabilities the gate counts: those not in the
// baseline, or all of them without one.
func newOnes(vs []Vulnerability) []Vulnerability {
	var out []Vulnerability
	for _, v := range vs {
		if v.Baseline != stateUnchanged {
			out = append(out, v)
		}
	}
	return out
}

// setBaselineOutputs sets new-<severity> and fixed, always: without a
// baseline every vulnerability is new and none is fixed.
func setBaselineOutputs(c interface{ SetOutput(string, string) }, vs []Vulnerability, fixed []baselineEntry) {
	counts := countBySeverity(newOnes(vs))
	for _, s := range severities {
		c.SetOutput("new-"+lower(s), strconv.Itoa(counts[s]))
	}
	c.SetOutput("fixed", strconv.Itoa(len(fixed)))
}

// baselineSummary is the new / fixed / unchanged table of the summary.
func baselineSummary(b *baseline, vs []Vulnerability, fixed []baselineEntry, failOn string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n#### Against the baseline `%s` (%s)\n\n| Severity | New | Fixed | Unchanged |\n|---|---|---|---|\n", cellText(b.Source), b.Format)
	newC, unch := map[string]int{}, map[string]int{}
	for _, v := range vs {
		if v.Baseline == stateUnchanged {
			unch[v.Severity]++
		} else {
			newC[v.Severity]++
		}
	}
	fix := map[string]int{}
	for _, e := range fixed {
		fix[e.Severity]++
	}
	for _, s := range severities {
		fmt.Fprintf(&sb, "| %s | %d | %d | %d |\n", strings.ToUpper(s[:1])+strings.ToLower(s[1:]), newC[s], fix[s], unch[s])
	}
	if failOn != "none" {
		fmt.Fprintf(&sb, "\n`fail-on: %s` counts only the new ones: %d at or above it.\n", failOn, len(failing(newOnes(vs), failOn)))
	}
	var lines []string
	for _, v := range vs {
		if v.Baseline == stateNew && len(lines) < 10 {
			line := fmt.Sprintf("| new | %s | %s | %s | %s |", v.Severity, v.ID, cellText(v.Package), cellText(v.Installed))
			if len(v.NewOn) > 0 {
				line = fmt.Sprintf("| new on %s | %s | %s | %s | %s |", strings.Join(v.NewOn, ", "), v.Severity, v.ID, cellText(v.Package), cellText(v.Installed))
			}
			lines = append(lines, line)
		}
	}
	for _, e := range fixed {
		if len(lines) < 20 {
			lines = append(lines, fmt.Sprintf("| fixed | %s | %s | %s | %s |", e.Severity, e.ID, cellText(e.Package), cellText(e.Installed)))
		}
	}
	if len(lines) > 0 {
		sb.WriteString("\n| Change | Severity | Vulnerability | Package | Installed |\n|---|---|---|---|---|\n" + strings.Join(lines, "\n") + "\n")
	}
	return sb.String()
}

// baselineErr sorts a failure to read a baseline image: not found is a
// bad input (exit 2), anything else the registry's failure (exit 3).
func baselineErr(ref string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return action.UsageErr("baseline", fmt.Errorf("the image %q is not in its registry: %w", ref, err))
	}
	var ee *action.ExitError
	if errors.As(err, &ee) && ee.Code == action.ExitUsage {
		// Named for the input the shared code reads (sbom, image-ref).
		inner := errors.Unwrap(ee.Err)
		if inner == nil {
			inner = ee.Err
		}
		return action.UsageErr("baseline", fmt.Errorf("the image %q: %w", ref, inner))
	}
	return action.External(fmt.Errorf("baseline %q: %w", ref, err))
}

// entryOf is a vulnerability of this action as a baseline entry.
func entryOf(v Vulnerability) baselineEntry {
	return baselineEntry{ID: v.ID, Aliases: v.Aliases, Severity: severityOf(v.Severity), Package: v.Package,
		Ecosystem: purlType(v.PURL), PURL: v.PURL, Installed: v.Installed, Fixed: v.Fixed, Platforms: v.Platforms}
}

// readBaselineImage finds the baseline image's vulnerabilities with the
// scan's own matchers, database, filters and platforms: its attached
// SBOMs are matched when every platform scanned has one (no layer is
// pulled), else the image is analysed. Nothing is written.
func readBaselineImage(ctx context.Context, c *action.Context, cfg Config, gdb *grypematch.DB) (*baseline, error) {
	ref := cfg.Baseline
	bcfg := cfg
	bcfg.ImageRef, bcfg.SBOM, bcfg.AttachSBOM, bcfg.SBOMFile, bcfg.SBOMFileSet = ref, sbomAttached, false, "sbom.json", false
	picked := func(platform string) bool {
		if platform == "" || len(cfg.Platforms) == 0 {
			return true
		}
		p, err := v1.ParsePlatform(platform)
		return err == nil && slices.ContainsFunc(cfg.Platforms, func(s string) bool {
			spec, err := v1.ParsePlatform(s)
			return err == nil && platformMatches(*p, *spec)
		})
	}
	rs, missing, err := findAttached(ctx, bcfg)
	if err != nil {
		return nil, baselineErr(ref, err)
	}
	b := &baseline{Source: ref, Kind: baselineImage}
	var ps []*platformScan
	if rs != nil && !slices.ContainsFunc(missing, picked) {
		rs.docs = slices.DeleteFunc(rs.docs, func(d rescanDoc) bool { return !picked(d.Platform) })
		if _, _, err := rs.matchDocs(ctx, c, ref); err != nil {
			return nil, baselineErr(ref, err)
		}
		for _, d := range rs.docs {
			ps = append(ps, &platformScan{Platform: d.Platform, res: d.res})
		}
		b.Format = "attached SBOM"
		c.Logf("baseline: matching the SBOM attached to %s (%d)", ref, len(rs.docs))
	} else {
		c.Logf("baseline: %s has no SBOM attached for every platform; scanning it", ref)
		t, err := target.OpenRemote(ctx, ref, target.Auth{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword})
		if err != nil {
			return nil, baselineErr(ref, err)
		}
		defer t.Close()
		if ps, err = pickPlatforms(bcfg, t, true); err != nil {
			return nil, baselineErr(ref, err)
		}
		if ps == nil {
			res, err := catalog.Run(ctx, t, cfg.SBOMGenerator, version.String(), cfg.Skip)
			if err != nil {
				return nil, baselineErr(ref, err)
			}
			ps = []*platformScan{{res: res}}
		} else if err := analyseEach(ctx, c, bcfg, ps, false); err != nil {
			return nil, baselineErr(ref, err)
		}
		b.Format = "image scan"
	}
	vs, err := gatePlatforms(ctx, ps, cfg, gdb)
	if err != nil {
		return nil, baselineErr(ref, err)
	}
	for _, v := range vs {
		b.entries = append(b.entries, entryOf(v))
	}
	return b, nil
}
