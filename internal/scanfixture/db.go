package scanfixture

import (
	"fmt"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/bucket"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/vulnerability"
	bolt "go.etcd.io/bbolt"
)

// Advisory is one vulnerability of one package in the test database.
type Advisory struct {
	ID       string
	Severity string // CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN
	// Ecosystem is "debian" (Debian 12 packages), "go" or "npm".
	Ecosystem string
	Package   string
	// Fixed is the fixed version; empty for an unfixed advisory. For Go
	// and npm, Vulnerable is the affected range (e.g. "<0.50.0").
	Fixed      string
	Vulnerable string
	Title      string
	// Description and References, when set, replace the test text; the
	// pipeline's demo database carries real advisories' own.
	Description string
	References  []string
}

// WriteDB creates <dir>/trivy.db and metadata.json (trivy's layout under
// <cache-dir>/db) holding advisories, built at updatedAt.
func WriteDB(dir string, advisories []Advisory, updatedAt time.Time) error {
	if err := db.Init(dir); err != nil {
		return fmt.Errorf("creating the test database: %w", err)
	}
	defer db.Close()
	dbc := db.Config{}
	debian := types.DataSource{ID: vulnerability.Debian, Name: "Debian Security Tracker", URL: "https://salsa.debian.org/security-tracker-team/security-tracker"}
	ghsa := func(eco string) types.DataSource {
		return types.DataSource{ID: vulnerability.GHSA, Name: "GitHub Security Advisory " + eco, URL: "https://github.com/advisories"}
	}
	goBkt, err := bucket.NewGo(ghsa("Go"))
	if err != nil {
		return err
	}
	npmBkt, err := bucket.NewNpm(ghsa("npm"))
	if err != nil {
		return err
	}
	buckets := map[string]struct {
		name string
		src  types.DataSource
	}{
		"debian": {bucket.NewDebian("12").Name(), debian},
		"go":     {goBkt.Name(), goBkt.DataSource()},
		"npm":    {npmBkt.Name(), npmBkt.DataSource()},
	}
	err = dbc.BatchUpdate(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if err := dbc.PutDataSource(tx, b.name, b.src); err != nil {
				return err
			}
		}
		for _, a := range advisories {
			b, ok := buckets[a.Ecosystem]
			if !ok {
				return fmt.Errorf("advisory %s: unknown ecosystem %q", a.ID, a.Ecosystem)
			}
			adv := types.Advisory{FixedVersion: a.Fixed}
			if a.Ecosystem == "debian" {
				if a.Fixed == "" {
					adv.Status = types.StatusAffected
				}
			} else {
				adv = types.Advisory{VulnerableVersions: []string{a.Vulnerable}}
				if a.Fixed != "" {
					adv.PatchedVersions = []string{a.Fixed}
				}
			}
			if err := dbc.PutAdvisoryDetail(tx, a.ID, a.Package, []string{b.name}, adv); err != nil {
				return err
			}
			sev, err := types.NewSeverity(a.Severity)
			if err != nil {
				return fmt.Errorf("advisory %s: %w", a.ID, err)
			}
			desc, refs := a.Description, a.References
			if desc == "" {
				desc = "A vulnerability made for the scan tests."
			}
			if len(refs) == 0 {
				refs = []string{"https://example.org/advisories/" + a.ID}
			}
			title := a.Title
			if title == "" {
				title = fmt.Sprintf("%s: test advisory for %s", a.ID, a.Package)
			}
			if err := dbc.PutVulnerability(tx, a.ID, types.Vulnerability{
				//lint:ignore SA1019 the DB still carries Severity, and trivy falls back to it when no vendor severity applies.
				Title: title, Description: desc, Severity: a.Severity,
				VendorSeverity: types.VendorSeverity{b.src.ID: sev},
				References:     refs,
			}); err != nil {
				return err
			}
			if err := dbc.PutVulnerabilityID(tx, a.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing the test database: %w", err)
	}
	// Move advisories from the detail bucket into the per-source buckets
	// the detectors read, as trivy-db's own build does.
	err = dbc.ForEachVulnerabilityID(func(tx *bolt.Tx, id string) error {
		return dbc.SaveAdvisoryDetails(tx, id)
	})
	if err != nil {
		return fmt.Errorf("writing the test database: %w", err)
	}
	if err := dbc.DeleteAdvisoryDetailBucket(); err != nil {
		return err
	}
	if err := dbc.DeleteVulnerabilityIDBucket(); err != nil {
		return err
	}
	return metadata.NewClient(dir).Update(metadata.Metadata{
		Version: db.SchemaVersion, UpdatedAt: updatedAt, NextUpdate: updatedAt.Add(24 * time.Hour), DownloadedAt: updatedAt,
	})
}
