package scanfixture

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anchore/clio"
	v6 "github.com/anchore/grype/grype/db/v6"
	"github.com/anchore/grype/grype/db/v6/distribution"
	"github.com/anchore/grype/grype/db/v6/installation"
)

// grypeSources are the grype providers (and version formats) that publish
// each ecosystem's advisories, as in grype's published database.
var grypeSources = map[string]struct{ provider, ecosystem, format string }{
	"debian": {"debian", "deb", "dpkg"},
	"go":     {"github", "go-module", "go"},
	"npm":    {"github", "npm", "npm"},
}

// WriteGrypeDBFile writes dir/vulnerability.db, a grype v6 database
// holding advisories, with grype's own store writer. Its build time is the
// time of writing (grype's writer sets it).
func WriteGrypeDBFile(dir string, advisories []Advisory) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	w, err := v6.NewWriter(v6.Config{DBDirPath: dir})
	if err != nil {
		return fmt.Errorf("creating the grype test database: %w", err)
	}
	if err := w.SetDBMetadata(); err != nil {
		w.Close()
		return err
	}
	captured := time.Now().UTC().Truncate(time.Second)
	providers := map[string]*v6.Provider{}
	for _, a := range advisories {
		src, ok := grypeSources[a.Ecosystem]
		if !ok {
			w.Close()
			return fmt.Errorf("advisory %s: unknown ecosystem %q", a.ID, a.Ecosystem)
		}
		p := providers[src.provider]
		if p == nil {
			p = &v6.Provider{ID: src.provider, Version: "1", Processor: "scanfixture", DateCaptured: &captured}
			providers[src.provider] = p
		}
		title := a.Title
		if title == "" {
			title = fmt.Sprintf("%s: test advisory for %s", a.ID, a.Package)
		}
		vh := &v6.VulnerabilityHandle{
			Name: a.ID, Status: v6.VulnerabilityActive, ProviderID: p.ID, Provider: p,
			BlobValue: &v6.VulnerabilityBlob{
				ID: a.ID, Description: title,
				References: []v6.Reference{{URL: "https://example.org/advisories/" + a.ID}},
				Severities: []v6.Severity{{Scheme: v6.SeveritySchemeCHML, Value: strings.ToLower(a.Severity)}},
			},
		}
		if err := w.AddVulnerabilities(vh); err != nil {
			w.Close()
			return fmt.Errorf("advisory %s: %w", a.ID, err)
		}
		rng := v6.Range{Fix: &v6.Fix{State: v6.NotFixedStatus}}
		switch {
		case a.Ecosystem == "debian" && a.Fixed != "":
			rng.Version = v6.Version{Type: src.format, Constraint: "< " + a.Fixed}
		case a.Ecosystem == "debian":
			rng.Version = v6.Version{Type: src.format}
		default:
			rng.Version = v6.Version{Type: src.format, Constraint: a.Vulnerable}
		}
		if a.Fixed != "" {
			rng.Fix = &v6.Fix{Version: a.Fixed, State: v6.FixedStatus}
		}
		ph := &v6.AffectedPackageHandle{
			Vulnerability: vh,
			Package:       &v6.Package{Ecosystem: src.ecosystem, Name: a.Package},
			BlobValue:     &v6.PackageBlob{Ranges: []v6.Range{rng}},
		}
		if strings.HasPrefix(a.ID, "CVE-") {
			ph.BlobValue.CVEs = []string{a.ID}
		}
		if a.Ecosystem == "debian" {
			ph.OperatingSystem = &v6.OperatingSystem{Name: "debian", ReleaseID: "debian", MajorVersion: "12", Codename: "bookworm"}
		}
		if err := w.AddAffectedPackages(ph); err != nil {
			w.Close()
			return fmt.Errorf("advisory %s: %w", a.ID, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("finishing the grype test database: %w", err)
	}
	return nil
}

// WriteGrypeDB writes advisories as a grype v6 database and installs it,
// as `grype db import` does, under root (what GRYPE_DB_CACHE_DIR names;
// the scan action's is <cache-dir>/grype-db).
func WriteGrypeDB(root string, advisories []Advisory) error {
	tmp, err := os.MkdirTemp("", "scanfixture-grypedb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := WriteGrypeDBFile(tmp, advisories); err != nil {
		return err
	}
	client, err := distribution.NewClient(distribution.DefaultConfig())
	if err != nil {
		return err
	}
	cfg := installation.DefaultConfig(clio.Identification{Name: "scanfixture"})
	cfg.DBRootDir = root
	cur, err := installation.NewCurator(cfg, client)
	if err != nil {
		return err
	}
	if err := cur.Import(filepath.Join(tmp, v6.VulnerabilityDBFileName)); err != nil {
		return fmt.Errorf("installing the grype test database in %q: %w", root, err)
	}
	return nil
}
