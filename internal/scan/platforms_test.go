package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
)

// platformImage is a Debian image of debs whose config says os/arch.
func platformImage(t testing.TB, arch string, debs ...scanfixture.Deb) v1.Image {
	t.Helper()
	return platformImageOf(t, scanfixture.Image{Debs: debs}, arch)
}

// platformImageOf is fx built, its config saying linux/arch.
func platformImageOf(t testing.TB, fx scanfixture.Image, arch string) v1.Image {
	t.Helper()
	img, err := fx.Build()
	if err != nil {
		t.Fatal(err)
	}
	return withArch(t, img, arch)
}

// withArch is img with a config saying linux/arch.
func withArch(t testing.TB, img v1.Image, arch string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// twoPlatformIndex is linux/amd64 with nothing vulnerable beside
// linux/arm64 whose openssl has CVE-2099-0001 (critical) in testAdvisories.
func twoPlatformIndex(t *testing.T) (idx v1.ImageIndex, amd, arm v1.Image) {
	t.Helper()
	amd = platformImage(t, "amd64", scanfixture.Deb{Name: "bash", Version: "5.2.15-2+b3"}, scanfixture.Deb{Name: "openssl", Version: "3.0.13-1~deb12u1"})
	arm = platformImage(t, "arm64", scanfixture.Deb{Name: "bash", Version: "5.2.15-2+b3"}, scanfixture.Deb{Name: "openssl", Version: "3.0.11-1~deb12u1"})
	// Both carry the same application layer, as a multi-platform build
	// that copies files does.
	app, err := scanfixture.Image{NPMs: []scanfixture.NPM{{Name: "express", Version: "4.18.2"}}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := app.Layers()
	if err != nil {
		t.Fatal(err)
	}
	under := func(img v1.Image, arch string) v1.Image {
		own, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		out, err := mutate.AppendLayers(empty.Image, slices.Concat(ls, own)...)
		if err != nil {
			t.Fatal(err)
		}
		return withArch(t, out, arch)
	}
	amd, arm = under(amd, "amd64"), under(arm, "arm64")
	idx = mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	return idx, amd, arm
}

// attachedSBOM reads the SBOM referrers of subject: their count and the
// first one's content.
func attachedSBOM(t *testing.T, subject name.Digest, opts []remote.Option) (int, []byte) {
	t.Helper()
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		t.Fatalf("referrers of %s: %v", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var sboms []v1.Descriptor
	for _, m := range im.Manifests {
		if sbomArtifactTypes[m.ArtifactType] {
			sboms = append(sboms, m)
		}
	}
	if len(sboms) == 0 {
		return 0, nil
	}
	data, err := fetchSBOM(subject.Context().Digest(sboms[0].Digest.String()), opts)
	if err != nil {
		t.Fatal(err)
	}
	return len(sboms), data
}

// An index is scanned per platform: only the arm64 image has the
// vulnerable openssl, so only arm64 is flagged and the gate fails on it;
// each platform's SBOM is written to its own file and attached with that
// platform's manifest as subject, none to the index. platforms picks one;
// a platform the index lacks, or several SBOMs for one file, exit 2.
func TestIndexEveryPlatform(t *testing.T) {
	idx, amd, arm := twoPlatformIndex(t)
	cache := newCache(t, time.Now())
	common := []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities}
	digest := func(d interface{ Digest() (v1.Hash, error) }) string {
		h, err := d.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	for _, reg := range rescanRegistries(t) {
		t.Run(reg.kind, func(t *testing.T) {
			ref := reg.pushIndex(t, "acme/multi:1.0", idx)
			reg.reset()
			dir := t.TempDir()
			sarifFile := filepath.Join(dir, "scan.sarif")
			r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(), "--attach-sbom",
				"--sbom-file", filepath.Join(dir, "sbom-{platform}.json"), "--sarif-file", sarifFile, "--fail-on", "CRITICAL"})...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1 (a critical in arm64)\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			// A layer both platforms have is fetched and analysed once.
			shared := sharedLayers(t, amd, arm)
			if len(shared) == 0 {
				t.Fatal("the test images must share a layer")
			}
			log := reg.log()
			for _, d := range shared {
				if n := countLines(log, "GET /v2/acme/multi/blobs/"+d.String()); n != 1 {
					t.Errorf("the shared layer %s was fetched %d times, want 1", d, n)
				}
			}
			vs, _ := r.report["vulnerabilities"].([]any)
			if len(vs) != 1 {
				t.Fatalf("vulnerabilities %v, want CVE-2099-0001 alone", vs)
			}
			v := vs[0].(map[string]any)
			if v["id"] != "CVE-2099-0001" || v["package"] != "openssl" || !slices.Equal(toStrings(v["platforms"]), []string{"linux/arm64"}) {
				t.Errorf("finding %v, want CVE-2099-0001 in openssl on linux/arm64 only", v)
			}
			if r.outputs["critical"] != "1" || r.outputs["passed"] != "false" {
				t.Errorf("critical %q passed %q, want 1 and false", r.outputs["critical"], r.outputs["passed"])
			}
			files := map[string]string{
				"linux/amd64": filepath.Join(dir, "sbom-linux-amd64.json"),
				"linux/arm64": filepath.Join(dir, "sbom-linux-arm64.json"),
			}
			var listed []string
			if err := json.Unmarshal([]byte(r.outputs["sbom-files"]), &listed); err != nil || !slices.Equal(listed, []string{files["linux/amd64"], files["linux/arm64"]}) {
				t.Errorf("sbom-files %q (%v), want both platform files", r.outputs["sbom-files"], err)
			}
			if want := filepath.Join(dir, "sbom-{platform}.json"); r.outputs["sbom-file"] != want {
				t.Errorf("sbom-file %q, want %q", r.outputs["sbom-file"], want)
			}
			for plat, want := range map[string]string{"linux/amd64": "openssl@3.0.13-1~deb12u1", "linux/arm64": "openssl@3.0.11-1~deb12u1"} {
				data, err := os.ReadFile(files[plat])
				if err != nil {
					t.Fatal(err)
				}
				if purls := strings.Join(sbomPURLs(t, "spdx-json", data), " "); !strings.Contains(purls, want) {
					t.Errorf("%s SBOM lacks %s: %s", plat, want, purls)
				}
			}
			sarif, err := os.ReadFile(sarifFile)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Runs []struct {
					Tool struct {
						Driver struct {
							Rules []struct {
								ID         string `json:"id"`
								Properties struct {
									Platforms []string `json:"platforms"`
								} `json:"properties"`
							} `json:"rules"`
						} `json:"driver"`
					} `json:"tool"`
				} `json:"runs"`
			}
			if err := json.Unmarshal(sarif, &doc); err != nil || len(doc.Runs) != 1 || len(doc.Runs[0].Tool.Driver.Rules) != 1 {
				t.Fatalf("SARIF (%v):\n%s", err, sarif)
			}
			if rule := doc.Runs[0].Tool.Driver.Rules[0]; rule.ID != "CVE-2099-0001" || !slices.Equal(rule.Properties.Platforms, []string{"linux/arm64"}) {
				t.Errorf("SARIF rule %s has platforms %v, want linux/arm64", rule.ID, rule.Properties.Platforms)
			}
			var plats []struct {
				Platform, Digest string
				Counts           map[string]int
			}
			data, _ := json.Marshal(r.report["platforms"])
			if err := json.Unmarshal(data, &plats); err != nil || len(plats) != 2 {
				t.Fatalf("report platforms (%v): %s", err, data)
			}
			for i, want := range []struct {
				plat, digest string
				critical     int
			}{{"linux/amd64", digest(amd), 0}, {"linux/arm64", digest(arm), 1}} {
				if p := plats[i]; p.Platform != want.plat || p.Digest != want.digest || p.Counts["CRITICAL"] != want.critical {
					t.Errorf("report platform %d: %+v, want %s %s with %d critical", i, p, want.plat, want.digest, want.critical)
				}
			}

			// Each SBOM is attached to its own platform's manifest.
			for plat, img := range map[string]v1.Image{"linux/amd64": amd, "linux/arm64": arm} {
				n, got := attachedSBOM(t, ref.Context().Digest(digest(img)), reg.opts)
				want, _ := os.ReadFile(files[plat])
				if n != 1 || string(got) != string(want) {
					t.Errorf("%s manifest: %d SBOM referrers, content equal to its file %v", plat, n, string(got) == string(want))
				}
			}
			if n, _ := attachedSBOM(t, ref.Context().Digest(digest(idx)), reg.opts); n != 0 {
				t.Errorf("the index has %d SBOM referrers, want none: an SBOM describes one platform", n)
			}

			// One platform: amd64 has nothing vulnerable.
			one := filepath.Join(dir, "amd64.json")
			r = runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(), "--platforms", "linux/amd64",
				"--sbom-file", one, "--fail-on", "LOW"})...)
			if r.code != 0 || len(r.vulnIDs()) != 0 {
				t.Errorf("platforms linux/amd64: exit %d, flagged %v; want 0 and none\n%s", r.code, r.vulnIDs(), r.stderr)
			}
			if r.outputs["sbom-file"] != one || r.outputs["sbom-files"] != `["`+one+`"]` {
				t.Errorf("sbom-file %q sbom-files %q, want %s", r.outputs["sbom-file"], r.outputs["sbom-files"], one)
			}

			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"--platforms", "linux/s390x", "--sbom-file", one}, `input "platforms"`},
				{[]string{"--platforms", "linux/arm64,linux/riscv64", "--sbom-file", one}, `input "platforms"`},
				{[]string{"--sbom-file", filepath.Join(dir, "one.json")}, `input "sbom-file"`},
			} {
				r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String()}, c.args)...)
				if r.code != 2 || !strings.Contains(r.stderr, c.want) {
					t.Errorf("%v: exit %d, want 2 naming %s\n%s", c.args, r.code, c.want, r.stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "one.json")); err == nil {
				t.Error("a refused run wrote sbom-file")
			}
		})
	}
}

// sharedLayers are the layers a and b both have.
func sharedLayers(t *testing.T, a, b v1.Image) []v1.Hash {
	t.Helper()
	digests := func(img v1.Image) []v1.Hash {
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		var out []v1.Hash
		for _, l := range m.Layers {
			out = append(out, l.Digest)
		}
		return out
	}
	var out []v1.Hash
	bs := digests(b)
	for _, d := range digests(a) {
		if slices.Contains(bs, d) {
			out = append(out, d)
		}
	}
	return out
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// BenchmarkIndexPlatforms is one cold scan of a two-platform index
// against one of its platforms (platforms: linux/amd64), from an
// in-process registry: this machine's dpkg status (else 700 generated
// packages) and npm packages per platform, no layer shared; and an index
// whose two platforms have the same layers.
//
//	go test ./internal/scan -run '^$' -bench IndexPlatforms -benchtime 5x
func BenchmarkIndexPlatforms(b *testing.B) {
	status := ""
	if data, err := os.ReadFile("/var/lib/dpkg/status"); err == nil {
		status = string(data)
	} else {
		var debs []scanfixture.Deb
		for i := range 700 {
			debs = append(debs, scanfixture.Deb{Name: fmt.Sprintf("libbench%d", i), Version: fmt.Sprintf("1.%d.0-1", i)})
		}
		status = scanfixture.DpkgStatus(debs)
	}
	build := func(arch, status string) v1.Image {
		return platformImageOf(b, scanfixture.Image{DpkgStatus: status, NPMs: testNPMs}, arch)
	}
	extra := "\n\nPackage: arm-only\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: arm64\n"
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: build("amd64", status), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: build("arm64", strings.TrimRight(status, "\n")+extra), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/bench/multi:1")
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		b.Fatal(err)
	}
	// The same layers under both platforms: the best case of sharing.
	amd := build("amd64", status)
	same := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: withArch(b, amd, "arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	sameRef := ref.Context().Tag("same")
	if err := remote.WriteIndex(sameRef, same); err != nil {
		b.Fatal(err)
	}
	cache := b.TempDir()
	if err := scanfixture.WriteDB(filepath.Join(cache, "db"), testAdvisories, time.Now()); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, platforms string
		ref             name.Reference
	}{{"1-platform", "linux/amd64", ref}, {"2-platforms", "", ref}, {"2-platforms-same-layers", "", sameRef}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			args := []string{"scan", "--image-ref", c.ref.String(), "--cache-dir", cache, "--skip-db-update", "--fail-on", "none",
				"--sbom-file", filepath.Join(dir, "sbom-{platform}.json")}
			if c.platforms != "" {
				args = append(args, "--platforms", c.platforms)
			}
			env := map[string]string{"HOME": dir}
			for b.Loop() {
				var out, errb strings.Builder
				if code := Main(context.Background(), args, func(k string) string { return env[k] }, &out, &errb); code != 0 {
					b.Fatalf("exit %d\n%s", code, errb.String())
				}
			}
		})
	}
}

// grype matches every platform of an index too: with scanner: both, the
// arm64-only vulnerability is found by both matchers, on arm64 only.
func TestIndexEveryPlatformBothScanners(t *testing.T) {
	idx, _, _ := twoPlatformIndex(t)
	cache := newGrypeCache(t, testAdvisories)
	regs := rescanRegistries(t)
	reg := regs[len(regs)-1] // the in-process registry with the referrers API
	ref := reg.pushIndex(t, "acme/multi:1.0", idx)
	dir := t.TempDir()
	r := runScan(t, "--image-ref", ref.String(), "--cache-dir", cache, "--skip-db-update", "--scanner", "both",
		"--severity", allSeverities, "--sbom-file", filepath.Join(dir, "sbom-{platform}.json"), "--fail-on", "CRITICAL")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a critical in arm64)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	vs, _ := r.report["vulnerabilities"].([]any)
	if len(vs) != 1 {
		t.Fatalf("vulnerabilities %v, want CVE-2099-0001 alone", vs)
	}
	v := vs[0].(map[string]any)
	if v["id"] != "CVE-2099-0001" || !slices.Equal(toStrings(v["platforms"]), []string{"linux/arm64"}) {
		t.Errorf("finding %v, want CVE-2099-0001 on linux/arm64 only", v)
	}
	if got := toStrings(v["scanners"]); !slices.Equal(got, []string{Grype, Trivy}) && !slices.Equal(got, []string{Trivy, Grype}) {
		t.Errorf("CVE-2099-0001 found by %v, want trivy and grype", got)
	}
}
