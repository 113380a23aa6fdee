package scan

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
)

// An index scanned with attach-sbom, then rescanned from its attached
// per-platform SBOMs, gives the image scan's findings field for field,
// platforms included: zlib1g's CVE is in both platforms, openssl's in
// arm64 only. The report's platforms list and the summary's table say the
// same per platform.
func TestRescanAttachedIndexPlatforms(t *testing.T) {
	zlib := scanfixture.Deb{Name: "zlib1g", Version: "1:1.2.13.dfsg-1"}
	amd := platformImage(t, "amd64", zlib, scanfixture.Deb{Name: "openssl", Version: "3.0.13-1~deb12u1"})
	arm := platformImage(t, "arm64", zlib, scanfixture.Deb{Name: "openssl", Version: "3.0.11-1~deb12u1"})
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	cache := newCache(t, time.Now())
	common := []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities, "--fail-on", "CRITICAL"}
	for _, reg := range rescanRegistries(t) {
		t.Run(reg.kind, func(t *testing.T) {
			for _, format := range []string{"spdx-json", "cyclonedx-json", "syft-json"} {
				t.Run(format, func(t *testing.T) {
					ref := reg.pushIndex(t, "acme/multi-"+format+":1.0", idx)
					scan := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(), "--attach-sbom",
						"--sbom-format", format, "--sbom-file", filepath.Join(t.TempDir(), "sbom-{platform}.json")})...)
					if scan.code != 1 {
						t.Fatalf("image scan: exit %d, want 1\n%s", scan.code, scan.stderr)
					}
					want := findingsOf(t, scan)
					for _, w := range []string{`"id":"CVE-2099-0002"`, `"platforms":["linux/amd64","linux/arm64"]`, `"platforms":["linux/arm64"]`} {
						if !strings.Contains(want, w) {
							t.Fatalf("the image scan's findings lack %s:\n%s", w, want)
						}
					}
					rescan := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(), "--sbom", "attached"})...)
					if rescan.code != 1 {
						t.Fatalf("rescan: exit %d, want 1\n%s", rescan.code, rescan.stderr)
					}
					if got := findingsOf(t, rescan); got != want {
						t.Errorf("the rescan's findings differ from the image scan's:\n got %s\nwant %s", got, want)
					}
					for _, r := range []scanRun{scan, rescan} {
						var plats []struct {
							Platform string
							Counts   map[string]int
						}
						if err := remarshal(r.report["platforms"], &plats); err != nil || len(plats) != 2 ||
							plats[0].Platform != "linux/amd64" || plats[0].Counts["HIGH"] != 1 || plats[0].Counts["CRITICAL"] != 0 ||
							plats[1].Platform != "linux/arm64" || plats[1].Counts["HIGH"] != 1 || plats[1].Counts["CRITICAL"] != 1 {
							t.Errorf("report platforms (%v): %+v", err, plats)
						}
					}
				})
			}
		})
	}
}

// remarshal decodes v, a part of a decoded JSON report, into out.
func remarshal(v, out any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}
