package scan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// An OCI layout holding an index (as `buildx --output type=oci` writes
// it: index.json lists the index) or listing platform images in
// index.json itself is scanned like the registry index: every platform,
// one SBOM each, findings saying which platform they are in, platforms
// picking some. As a directory and as a tarball.
func TestLayoutIndexEveryPlatform(t *testing.T) {
	idx, amd, arm := twoPlatformIndex(t)
	cache := newCache(t, time.Now())
	common := []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities}

	nested := filepath.Join(t.TempDir(), "nested")
	p, err := layout.Write(nested, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	flat := filepath.Join(t.TempDir(), "flat")
	if p, err = layout.Write(flat, empty.Index); err != nil {
		t.Fatal(err)
	}
	for arch, img := range map[string]v1.Image{"amd64": amd, "arm64": arm} {
		if err := p.AppendImage(img, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: arch})); err != nil {
			t.Fatal(err)
		}
	}
	digest := func(img v1.Image) string {
		h, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	for what, input := range map[string]string{"nested": nested, "flat": flat, "nested-tar": tarLayout(t, nested)} {
		t.Run(what, func(t *testing.T) {
			dir := t.TempDir()
			r := runScan(t, slices.Concat(common, []string{"--input", input, "--sbom-file", filepath.Join(dir, "sbom-{platform}.json"), "--fail-on", "CRITICAL"})...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1 (a critical in arm64)\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			vs, _ := r.report["vulnerabilities"].([]any)
			if len(vs) != 1 {
				t.Fatalf("vulnerabilities %v, want CVE-2099-0001 alone", vs)
			}
			if v := vs[0].(map[string]any); v["id"] != "CVE-2099-0001" || !slices.Equal(toStrings(v["platforms"]), []string{"linux/arm64"}) {
				t.Errorf("finding %v, want CVE-2099-0001 on linux/arm64 only", v)
			}
			if !strings.Contains(r.stdout, "[linux/arm64]") {
				t.Errorf("the finding's message does not name its platform:\n%s", r.stdout)
			}
			var listed []string
			want := []string{filepath.Join(dir, "sbom-linux-amd64.json"), filepath.Join(dir, "sbom-linux-arm64.json")}
			if err := json.Unmarshal([]byte(r.outputs["sbom-files"]), &listed); err != nil || !slices.Equal(listed, want) {
				t.Errorf("sbom-files %q, want %v", r.outputs["sbom-files"], want)
			}
			for i, ver := range []string{"openssl@3.0.13-1~deb12u1", "openssl@3.0.11-1~deb12u1"} {
				data, err := os.ReadFile(want[i])
				if err != nil {
					t.Fatal(err)
				}
				if purls := strings.Join(sbomPURLs(t, "spdx-json", data), " "); !strings.Contains(purls, ver) {
					t.Errorf("%s lacks %s: %s", want[i], ver, purls)
				}
			}
			var plats []struct{ Platform, Digest string }
			data, _ := json.Marshal(r.report["platforms"])
			if err := json.Unmarshal(data, &plats); err != nil || len(plats) != 2 ||
				plats[0] != (struct{ Platform, Digest string }{"linux/amd64", digest(amd)}) ||
				plats[1] != (struct{ Platform, Digest string }{"linux/arm64", digest(arm)}) {
				t.Errorf("report platforms (%v): %s", err, data)
			}

			one := filepath.Join(dir, "amd64.json")
			r = runScan(t, slices.Concat(common, []string{"--input", input, "--platforms", "linux/amd64", "--sbom-file", one, "--fail-on", "LOW"})...)
			if r.code != 0 || len(r.vulnIDs()) != 0 || r.outputs["sbom-files"] != `["`+one+`"]` {
				t.Errorf("platforms linux/amd64: exit %d, flagged %v, sbom-files %s\n%s", r.code, r.vulnIDs(), r.outputs["sbom-files"], r.stderr)
			}
			r = runScan(t, slices.Concat(common, []string{"--input", input, "--platforms", "linux/s390x", "--sbom-file", one})...)
			if r.code != 2 || !strings.Contains(r.stderr, `input "platforms"`) || !strings.Contains(r.stderr, "linux/arm64") {
				t.Errorf("platforms linux/s390x: exit %d, want 2 naming platforms and what there is\n%s", r.code, r.stderr)
			}
		})
	}
}
