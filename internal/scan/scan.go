package scan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/types"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/catalog"
	"github.com/gitops-actions/gitops-actions/internal/grypematch"
	"github.com/gitops-actions/gitops-actions/internal/referrer"
	"github.com/gitops-actions/gitops-actions/internal/report"
	"github.com/gitops-actions/gitops-actions/internal/target"
	"github.com/gitops-actions/gitops-actions/internal/version"
	"github.com/gitops-actions/gitops-actions/internal/vulndb"
)

// Main runs the scan action and returns its exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	env := action.Env{Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	return action.Run(ctx, "scan", env, ParseConfig, run)
}

// sbomMediaTypes are the artifact types of the attached SBOM.
var sbomMediaTypes = map[string]string{
	catalog.SPDXJSON:      "application/spdx+json",
	catalog.CycloneDXJSON: "application/vnd.cyclonedx+json",
	catalog.SyftJSON:      "application/vnd.syft+json",
}

// cacheDir is trivy's default cache directory when cache-dir is empty, so
// the action and a trivy CLI on the same runner share one database.
func cacheDir(c *action.Context, cfg Config) string {
	if cfg.CacheDir != "" {
		return cfg.CacheDir
	}
	if x := c.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "trivy")
	}
	if h := c.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "trivy")
	}
	return filepath.Join(os.TempDir(), "trivy")
}

func run(ctx context.Context, c *action.Context, cfg Config) error {
	now := time.Now()
	// Inputs naming files are checked before anything is fetched.
	var expired []report.Finding
	if cfg.IgnoreFile != "" {
		var err error
		if expired, err = expiredEntries(cfg.IgnoreFile, now); err != nil {
			return action.UsageErr("ignore-file", err)
		}
	}
	for _, v := range cfg.VEX {
		if _, err := os.Stat(v); err != nil {
			return action.UsageErr("vex", fmt.Errorf("reading %q: %w", v, err))
		}
	}

	// A baseline file is read now; an image one once the database is open.
	var base *baseline
	baseKind := ""
	if cfg.Baseline != "" {
		var err error
		if baseKind, err = baselineKind(cfg.Baseline); err != nil {
			return action.UsageErr("baseline", err)
		}
		if baseKind != baselineImage {
			if base, err = readBaselineFile(cfg.Baseline); err != nil {
				return err
			}
		}
	}

	rs, err := readSBOMInput(ctx, cfg)
	if err != nil {
		return err
	}
	t, err := open(ctx, cfg, rs)
	if err != nil {
		return err
	}
	defer t.Close()
	var ps []*platformScan // the platforms of an index, else nil
	if rs == nil {
		if ps, err = selectPlatforms(cfg, t); err != nil {
			return err
		}
	}
	for _, l := range t.Outside {
		c.AddFindings(report.Finding{Source: report.SourceSyntax, Rule: "GA-PATH-OUTSIDE", Severity: report.Error, File: l.Path,
			Message: fmt.Sprintf("%s is a symlink to %s, outside path %q; it is not read", l.Path, l.Target, cfg.Path)})
	}

	var db vulndb.Info
	var gdb *grypematch.DB
	var ginfo grypematch.Info
	if cfg.Vulnerabilities && usesGrype(cfg) {
		var err error
		if gdb, ginfo, err = openGrype(ctx, c, cfg, cacheDir(c, cfg), now); err != nil {
			return err
		}
		defer gdb.Close()
	}
	if cfg.Vulnerabilities && usesTrivy(cfg) {
		dir := cacheDir(c, cfg)
		dbOpts := vulndb.Options{CacheDir: dir, Repositories: cfg.DBRepository, Skip: cfg.SkipDBUpdate, Now: now}
		if t.Ref != nil && cfg.RegistryUsername != "" {
			// A database mirror in the image's registry gets the same login.
			dbOpts.Credentials = map[string]ftypes.Credential{t.Ref.Context().RegistryStr(): {Username: cfg.RegistryUsername, Password: cfg.RegistryPassword}}
		}
		db, err = vulndb.Ensure(ctx, dbOpts)
		if err != nil {
			return action.External(err)
		}
		if db.Stale != nil {
			c.Warnf("vulnerability database download failed, using the cached one built %s ago (%s): %v",
				age(db.Age(now)), db.UpdatedAt.UTC().Format(time.RFC3339), db.Stale)
		} else if db.Downloaded {
			c.Logf("vulnerability database downloaded from %s (built %s)", db.Source, db.UpdatedAt.UTC().Format(time.RFC3339))
		}
		if err := vulndb.Open(db.Dir); err != nil {
			return action.External(err)
		}
		defer vulndb.Close()
	} else {
		// The analysis is the same; matching against an empty database
		// finds nothing, so the SBOM comes out without any download.
		empty, err := os.MkdirTemp("", "gitops-actions-nodb-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(empty)
		if err := vulndb.OpenEmpty(empty); err != nil {
			return action.External(err)
		}
		defer vulndb.Close()
		if !cfg.Vulnerabilities {
			c.Logf("vulnerability matching is off (vulnerabilities: false): writing the SBOM only")
		}
	}

	// Before anything is written: a baseline that cannot be read stops
	// the run with no SBOM or SARIF left behind.
	if baseKind == baselineImage {
		if base, err = readBaselineImage(ctx, c, cfg, gdb); err != nil {
			return err
		}
	}

	var res *catalog.Result
	var sbom bytes.Buffer
	if ps != nil {
		if res, err = analysePlatforms(ctx, c, cfg, ps); err != nil {
			return err
		}
		cfg.SBOMFile = sbomFileOutput(ps) // what the summary names
	} else if rs != nil {
		// A rescan writes no SBOM: its input is one.
		if res, ps, err = rs.match(ctx, c, t.Name); err != nil {
			return err
		}
	} else {
		if cfg.SBOMFile, err = singleSBOMFile(cfg, t); err != nil {
			return err
		}
		if res, err = catalog.Run(ctx, t, cfg.SBOMGenerator, version.String(), cfg.Skip); err != nil {
			return action.External(err)
		}
		if err := res.EncodeSBOM(&sbom, cfg.SBOMFormat); err != nil {
			return err
		}
		if err := writeFile(cfg.SBOMFile, sbom.Bytes()); err != nil {
			return action.UsageErr("sbom-file", err)
		}
		c.SetOutput("sbom-file", cfg.SBOMFile)
		setSBOMFiles(c, []string{cfg.SBOMFile})
		c.SetReportData("sbom", map[string]any{"file": cfg.SBOMFile, "format": cfg.SBOMFormat, "generator": cfg.SBOMGenerator, "packages": res.Packages})
	}
	if !cfg.Vulnerabilities {
		c.SetReportData("vulnerabilities", "skipped")
		c.AddSummary(fmt.Sprintf("### scan\n\nSBOM of %d packages written to `%s`; vulnerability matching skipped (`vulnerabilities: false`).\n", res.Packages, cfg.SBOMFile))
		if ps != nil {
			err := attachPlatformSBOMs(c, cfg, ps, now)
			c.SetReportData("platforms", ps)
			return err
		}
		return attachSBOM(c, cfg, t, sbom.Bytes(), now)
	}

	var vulns []Vulnerability
	if ps != nil {
		vulns, err = gatePlatforms(ctx, ps, cfg, gdb)
	} else {
		var extra []types.Result
		if extra, err = grypeMatch(ctx, gdb, res); err == nil {
			vulns, err = gate(ctx, res, cfg, extra...)
		}
	}
	if err != nil {
		return err
	}
	var fixed []baselineEntry
	if base != nil {
		fixed = compareBaseline(vulns, base)
	}
	c.AddFindings(expired...)
	reported := filterSeverity(vulns, cfg.Severity)
	dockerfile := contextDockerfile(cfg)
	c.AddFindings(findings(reported)...)
	if cfg.SARIFFile != "" {
		data, err := sarif(reported, dockerfile)
		if err != nil {
			return err
		}
		if err := writeFile(cfg.SARIFFile, c.RedactJSON(data)); err != nil {
			return action.UsageErr("sarif-file", err)
		}
		c.SetOutput("sarif-file", cfg.SARIFFile)
	}

	counts := countBySeverity(vulns)
	for _, s := range severities {
		c.SetOutput(lower(s), strconv.Itoa(counts[s]))
	}
	fixable := 0
	for _, v := range vulns {
		if v.Fixed != "" {
			fixable++
		}
	}
	c.SetOutput("fixable", strconv.Itoa(fixable))
	setBaselineOutputs(c, vulns, fixed)
	failed := failing(newOnes(vulns), cfg.FailOn)
	c.SetOutput("passed", strconv.FormatBool(len(failed) == 0))
	c.SetReportData("vulnerabilities", vulns)
	if base != nil {
		fixedList := fixed
		if fixedList == nil {
			fixedList = []baselineEntry{}
		}
		c.SetReportData("baseline", map[string]any{"source": base.Source, "kind": base.Kind, "format": base.Format,
			"vulnerabilities": len(base.entries), "new": len(newOnes(vulns)), "unchanged": len(vulns) - len(newOnes(vulns)), "fixed": fixedList})
	}
	if usesTrivy(cfg) {
		c.SetOutput("db-updated-at", db.UpdatedAt.UTC().Format(time.RFC3339))
		c.SetReportData("db", map[string]any{
			"updated-at": db.UpdatedAt.UTC().Format(time.RFC3339), "downloaded": db.Downloaded, "source": db.Source, "stale": db.Stale != nil,
		})
	}
	if gdb != nil {
		if !usesTrivy(cfg) {
			c.SetOutput("db-updated-at", ginfo.Built.UTC().Format(time.RFC3339))
		}
		c.SetReportData("grype-db", map[string]any{
			"built": ginfo.Built.UTC().Format(time.RFC3339), "schema": ginfo.Schema, "downloaded": ginfo.Downloaded, "source": ginfo.Source, "stale": ginfo.Stale != nil,
		})
	}

	if ps != nil {
		if err := attachPlatformSBOMs(c, cfg, ps, now); err != nil {
			return err
		}
		c.SetReportData("platforms", ps)
	} else if err := attachSBOM(c, cfg, t, sbom.Bytes(), now); err != nil {
		return err
	}

	sum := summary(counts, vulns, db, now, res.Packages, cfg)
	if ps != nil {
		sum += platformSummary(ps)
	}
	if i := strings.LastIndex(sum, ". SBOM: "); rs != nil && i >= 0 {
		sum = sum[:i] + ". " + rs.summaryLine()
	}
	if base != nil {
		sum += baselineSummary(base, vulns, fixed, cfg.FailOn)
	}
	c.AddSummary(sum + grypeSummary(cfg, ginfo, now))
	if len(failed) > 0 && base != nil {
		return action.Blocking(fmt.Errorf("%d new vulnerabilities at or above %s, not in the baseline %s", len(failed), cfg.FailOn, base.Source))
	}
	if len(failed) > 0 {
		return action.Blocking(fmt.Errorf("%d vulnerabilities at or above %s", len(failed), cfg.FailOn))
	}
	return nil
}

func open(ctx context.Context, cfg Config, rs *rescan) (*target.Target, error) {
	switch {
	case rs != nil:
		return rs.target(cfg)
	case cfg.ImageRef != "":
		t, err := target.OpenRemote(ctx, cfg.ImageRef, target.Auth{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword})
		if err != nil {
			return nil, action.External(err)
		}
		return t, nil
	case cfg.Input != "":
		t, err := target.OpenArchive(cfg.Input)
		if err != nil {
			return nil, action.UsageErr("input", err)
		}
		return t, nil
	default:
		t, err := target.OpenDir(cfg.Path)
		if err != nil {
			return nil, action.UsageErr("path", err)
		}
		return t, nil
	}
}

// writeFile writes beside path and renames, so a failed run leaves no
// half-written file.
func writeFile(path string, data []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating the directory of %q: %w", path, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %q: %w", path, err)
	}
	return nil
}

// contextDockerfile is the Dockerfile of a directory scan, or of the
// working directory, which SARIF results point at when present.
func contextDockerfile(cfg Config) string {
	p := "Dockerfile"
	if cfg.Path != "" {
		p = filepath.Join(cfg.Path, "Dockerfile")
	}
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return filepath.ToSlash(p)
	}
	return ""
}

func age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return fmt.Sprintf("%d minutes", int(d/time.Minute))
}

// attachSBOM pushes the SBOM as a referrer of the scanned image when asked.
func attachSBOM(c *action.Context, cfg Config, t *target.Target, sbom []byte, now time.Time) error {
	if cfg.AttachSBOM {
		ref, err := referrer.Push(referrer.Subject{Repo: t.Ref.Context(), Descriptor: t.Descriptor}, sbomMediaTypes[cfg.SBOMFormat], sbom,
			map[string]string{"org.opencontainers.image.created": now.UTC().Format(time.RFC3339)}, t.Options...)
		if err != nil {
			return action.External(fmt.Errorf("attaching the SBOM to %q: %w", cfg.ImageRef, err))
		}
		c.SetOutput("sbom-ref", ref.String())
	}

	return nil
}
