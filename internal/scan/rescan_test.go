package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-actions/gitops-actions/internal/referrer"
	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// rescanRegistry is a registry under test with its request log.
type rescanRegistry struct {
	kind     string
	host     string
	opts     []remote.Option
	login    []string // scan flags
	log      func() []string
	reset    func()
	referrer bool // serves the OCI referrers API
}

// rescanRegistries are the harness registries (neither serves the
// referrers API, so SBOMs are found through the sha256-<digest> tag) and
// go-containerregistry's, which serves it.
func rescanRegistries(t *testing.T) []rescanRegistry {
	var out []rescanRegistry
	for _, reg := range testenv.Registries(t, "ci", "s3cret") {
		out = append(out, rescanRegistry{kind: reg.Kind, host: reg.Host, opts: reg.Options(),
			login: []string{"--registry-username", reg.Username, "--registry-password", reg.Password},
			log:   reg.RequestLog, reset: reg.ResetRequests, referrer: reg.HasReferrers})
	}
	var mu sync.Mutex
	var lines []string
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lines = append(lines, r.Method+" "+r.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	out = append(out, rescanRegistry{kind: "ggcr-referrers", host: strings.TrimPrefix(srv.URL, "http://"), referrer: true,
		log:   func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(lines) },
		reset: func() { mu.Lock(); defer mu.Unlock(); lines = nil }})
	return out
}

func (r rescanRegistry) push(t *testing.T, repo string, img v1.Image) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, r.opts...); err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r rescanRegistry) pushIndex(t *testing.T, repo string, idx v1.ImageIndex) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, r.opts...); err != nil {
		t.Fatal(err)
	}
	return ref
}

// layerGets are the requests of log that fetched a layer or the config of img.
func layerGets(t *testing.T, log []string, img v1.Image) []string {
	t.Helper()
	var blobs []string
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	blobs = append(blobs, cfg.String())
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, d.String())
	}
	var out []string
	for _, line := range log {
		for _, b := range blobs {
			if (strings.HasPrefix(line, "GET ") || strings.HasPrefix(line, "HEAD ")) && strings.HasSuffix(line, "/blobs/"+b) {
				out = append(out, line)
			}
		}
	}
	return out
}

// findingsOf is what a user compares between two scans: every reported
// vulnerability with all its fields, the findings and the gate.
func findingsOf(t *testing.T, r scanRun) string {
	t.Helper()
	var b strings.Builder
	for _, k := range []string{"vulnerabilities", "findings"} {
		var lines []string
		vs, _ := r.report[k].([]any)
		for _, v := range vs {
			m := v.(map[string]any)
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(data))
		}
		slices.Sort(lines)
		fmt.Fprintf(&b, "%s:\n%s\n", k, strings.Join(lines, "\n"))
	}
	for _, o := range []string{"critical", "high", "medium", "low", "unknown", "fixable", "passed"} {
		fmt.Fprintf(&b, "%s=%s\n", o, r.outputs[o])
	}
	return b.String()
}

// An SBOM this action made, rescanned from the file and from the attached
// referrer, gives the findings of the image scan, in every format and with
// either generator, and the rescan fetches no layer of the image.
func TestRescanFromSBOM(t *testing.T) {
	img, _ := fixture(t)
	cache := newCache(t, time.Now())
	common := []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities, "--fail-on", "HIGH"}
	for _, reg := range rescanRegistries(t) {
		t.Run(reg.kind, func(t *testing.T) {
			for _, gen := range []string{"trivy", "syft"} {
				for _, format := range []string{"spdx-json", "cyclonedx-json", "syft-json"} {
					t.Run(gen+"/"+format, func(t *testing.T) {
						ref := reg.push(t, "acme/"+gen+"-"+format+":1.0", img)
						sbomFile := filepath.Join(t.TempDir(), "sbom.json")
						scan := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(),
							"--sbom-generator", gen, "--sbom-format", format, "--sbom-file", sbomFile, "--attach-sbom"})...)
						if scan.code != 1 {
							t.Fatalf("image scan: exit %d, want 1 (gate)\n%s", scan.code, scan.stderr)
						}
						if got := scan.vulnIDs(); !slices.Equal(got, wantDetected) {
							t.Fatalf("image scan flagged %v, want %v", got, wantDetected)
						}
						// Every path too: the npm packages' package.json
						// survives trivy's SPDX and the syft-json this
						// action writes.
						want := findingsOf(t, scan)
						if gen == "trivy" && !strings.Contains(want, `"path":"usr/lib/node_modules/lodash/package.json"`) {
							t.Fatalf("the image scan names no path for lodash:\n%s", want)
						}

						fromFile := runScan(t, slices.Concat(common, []string{"--sbom", sbomFile})...)
						if fromFile.code != 1 {
							t.Fatalf("rescan of the file: exit %d, want 1\n%s", fromFile.code, fromFile.stderr)
						}
						if got := findingsOf(t, fromFile); got != want {
							t.Errorf("rescan of the file differs from the image scan:\n got %s\nwant %s", got, want)
						}
						if src := fromFile.report["source"]; !strings.Contains(fmt.Sprint(src), sbomFile) {
							t.Errorf("the report does not say the source was %s: %v", sbomFile, src)
						}

						reg.reset()
						attached := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(), "--sbom", "attached"})...)
						if attached.code != 1 {
							t.Fatalf("rescan of the referrer: exit %d, want 1\n%s", attached.code, attached.stderr)
						}
						if got := findingsOf(t, attached); got != want {
							t.Errorf("rescan of the referrer differs from the image scan:\n got %s\nwant %s", got, want)
						}
						if src := fmt.Sprint(attached.report["source"]); !strings.Contains(src, scan.outputs["sbom-ref"]) || scan.outputs["sbom-ref"] == "" {
							t.Errorf("the report does not name the referrer %q: %v", scan.outputs["sbom-ref"], src)
						}
						log := reg.log()
						if got := layerGets(t, log, img); len(got) > 0 {
							t.Errorf("the rescan fetched the image's blobs: %v", got)
						}
						if !slices.ContainsFunc(log, func(l string) bool { return strings.HasPrefix(l, "GET /v2/") && strings.Contains(l, "/blobs/") }) {
							t.Errorf("the rescan fetched no SBOM blob at all:\n%s", strings.Join(log, "\n"))
						}
						if t.Failed() {
							t.Logf("requests of the rescan:\n%s", strings.Join(log, "\n"))
						}
					})
				}
			}
		})
	}
}

// An index rescanned from its SBOMs: one per platform manifest, each
// matched, the gate over all of them. A platform without an SBOM refuses
// the rescan, since it would go unscanned.
func TestRescanAttachedIndex(t *testing.T) {
	amd, _ := fixture(t)
	arm := armImage(t)
	cache := newCache(t, time.Now())
	common := []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities}
	for _, reg := range rescanRegistries(t) {
		t.Run(reg.kind, func(t *testing.T) {
			idx := mutate.AppendManifests(empty.Index,
				mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
				mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
			ref := reg.pushIndex(t, "acme/multi:1.0", idx)
			// Attach an SBOM to each platform manifest, as a scan of it by digest does.
			want := map[string][]string{}
			for plat, img := range map[string]v1.Image{"linux/amd64": amd, "linux/arm64": arm} {
				d, err := img.Digest()
				if err != nil {
					t.Fatal(err)
				}
				r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.Context().Digest(d.String()).String(),
					"--sbom-file", filepath.Join(t.TempDir(), "sbom.json"), "--attach-sbom", "--fail-on", "none"})...)
				if r.code != 0 {
					t.Fatalf("scan of %s: exit %d\n%s", plat, r.code, r.stderr)
				}
				want[plat] = r.vulnIDs()
			}
			if slices.Equal(want["linux/amd64"], want["linux/arm64"]) {
				t.Fatalf("the platforms must differ for this test: %v", want)
			}
			reg.reset()
			r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(), "--sbom", "attached"})...)
			if r.code != 1 {
				t.Fatalf("rescan of the index: exit %d, want 1\n%s", r.code, r.stderr)
			}
			union := slices.Concat(want["linux/amd64"], want["linux/arm64"])
			slices.Sort(union)
			if got := r.vulnIDs(); !slices.Equal(got, slices.Compact(union)) {
				t.Errorf("index rescan flagged %v, want %v", got, union)
			}
			src, _ := json.Marshal(r.report["source"])
			for _, plat := range []string{"linux/amd64", "linux/arm64"} {
				if !strings.Contains(string(src), `"platform":"`+plat+`"`) {
					t.Errorf("the report's source lacks %s: %s", plat, src)
				}
			}
			for _, img := range []v1.Image{amd, arm} {
				if got := layerGets(t, reg.log(), img); len(got) > 0 {
					t.Errorf("the rescan fetched image blobs: %v", got)
				}
			}

			// A new platform without an SBOM.
			idx2 := mutate.AppendManifests(idx, mutate.IndexAddendum{Add: mutate.ConfigMediaType(arm, "application/vnd.oci.image.config.v1+json"),
				Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}})
			ref2 := reg.pushIndex(t, "acme/multi:2.0", idx2)
			r = runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref2.String(), "--sbom", "attached"})...)
			if r.code != 2 || !strings.Contains(r.stderr, `input "sbom"`) || !strings.Contains(r.stderr, "linux/s390x") {
				t.Errorf("a platform without an SBOM: exit %d, want 2 naming sbom and linux/s390x\n%s", r.code, r.stderr)
			}
		})
	}
}

// armImage is an arm64 image with openssl only, so its findings differ
// from the amd64 fixture's.
func armImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := scanfixture.Image{Debs: []scanfixture.Deb{{Name: "openssl", Version: "3.0.11-1~deb12u1"}}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = "arm64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Bad sbom inputs exit 2 naming the input, before any database work.
func TestRescanBadInput(t *testing.T) {
	img, _ := fixture(t)
	dir := t.TempDir()
	write := fileWriter(t, dir)
	unreadable := write("unreadable.json", `{}`)
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	reg := rescanRegistries(t)[0]
	bare := reg.push(t, "acme/bare:1.0", img)
	// No cache-dir database: a bad input must stop before one is needed.
	empty := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"not JSON", []string{"--sbom", write("sbom.txt", "pkg:deb/debian/openssl@3.0.11-1\n")}, "it is not JSON"},
		{"unknown JSON", []string{"--sbom", write("other.json", `{"kind":"List","items":[]}`)}, "JSON of no known SBOM format"},
		{"truncated", []string{"--sbom", write("cut.json", `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[`)}, "it is not JSON"},
		{"missing file", []string{"--sbom", filepath.Join(dir, "nope.json")}, "no such file"},
		{"directory", []string{"--sbom", dir}, "reading"},
		{"no referrer", slices.Concat(reg.login, []string{"--image-ref", bare.String(), "--sbom", "attached"}), "has no SBOM referrer"},
		{"attached without image-ref", []string{"--sbom", "attached"}, "attached needs image-ref"},
		{"file beside image-ref", []string{"--sbom", "x.json", "--image-ref", bare.String()}, "image-ref goes with sbom: attached"},
		{"attach-sbom", slices.Concat(reg.login, []string{"--image-ref", bare.String(), "--sbom", "attached", "--attach-sbom"}), `input "attach-sbom"`},
	}
	if os.Geteuid() != 0 {
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"unreadable", []string{"--sbom", unreadable}, "permission denied"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runScan(t, slices.Concat(c.args, []string{"--cache-dir", empty, "--skip-db-update"})...)
			if r.code != 2 || !strings.Contains(r.stderr, `"sbom"`) && !strings.Contains(r.stderr, `"attach-sbom"`) || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %s; want 2 naming the input and %q", r.code, r.stderr, c.want)
			}
			if r.report["status"] != "error" {
				t.Errorf("report status %v, want error", r.report["status"])
			}
		})
	}
}

// An index scanned before SBOMs were attached per platform carries one
// SBOM, on the index: the rescan falls back to it and finds what the scan
// of that reference found.
func TestRescanAttachedToIndex(t *testing.T) {
	amd, _ := fixture(t)
	cache := newCache(t, time.Now())
	common := []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities, "--fail-on", "none"}
	for _, reg := range rescanRegistries(t) {
		t.Run(reg.kind, func(t *testing.T) {
			idx := mutate.AppendManifests(empty.Index,
				mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
			ref := reg.pushIndex(t, "acme/legacy:1.0", idx)
			d, err := idx.Digest()
			if err != nil {
				t.Fatal(err)
			}
			mf, err := idx.RawManifest()
			if err != nil {
				t.Fatal(err)
			}
			mt, err := idx.MediaType()
			if err != nil {
				t.Fatal(err)
			}
			// The SBOM of the amd64 image, attached to the index.
			sbomFile := filepath.Join(t.TempDir(), "sbom.json")
			scan := runScan(t, slices.Concat(common, []string{"--input", writeLayout(t, amd), "--sbom-format", "cyclonedx-json", "--sbom-file", sbomFile})...)
			if scan.code != 0 {
				t.Fatalf("scan: exit %d\n%s", scan.code, scan.stderr)
			}
			doc, err := os.ReadFile(sbomFile)
			if err != nil {
				t.Fatal(err)
			}
			sub := referrer.Subject{Repo: ref.Context(), Descriptor: v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(mf))}}
			art, err := referrer.Push(sub, "application/vnd.cyclonedx+json", doc, map[string]string{"org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339)}, reg.opts...)
			if err != nil {
				t.Fatal(err)
			}
			r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(), "--sbom", "attached"})...)
			if r.code != 0 {
				t.Fatalf("rescan: exit %d\n%s", r.code, r.stderr)
			}
			if got, want := findingsOf(t, r), findingsOf(t, scan); got != want {
				t.Errorf("rescan of the index's SBOM differs from the scan:\n got %s\nwant %s", got, want)
			}
			if src := fmt.Sprint(r.report["source"]); !strings.Contains(src, art.String()) {
				t.Errorf("the report does not name the referrer %s: %s", art, src)
			}
		})
	}
}

// Of several SBOMs of one image, the newest by its created annotation is
// rescanned, whatever order the registry lists them in.
func TestRescanPicksNewest(t *testing.T) {
	amd, _ := fixture(t)
	cache := newCache(t, time.Now())
	common := []string{"--cache-dir", cache, "--skip-db-update", "--severity", allSeverities, "--fail-on", "none"}
	// An old SBOM of another image (openssl only).
	oldFile := filepath.Join(t.TempDir(), "old.json")
	if r := runScan(t, slices.Concat(common, []string{"--input", writeLayout(t, armImage(t)), "--sbom-file", oldFile})...); r.code != 0 {
		t.Fatalf("scan: exit %d\n%s", r.code, r.stderr)
	}
	old, err := os.ReadFile(oldFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, reg := range rescanRegistries(t) {
		t.Run(reg.kind, func(t *testing.T) {
			ref := reg.push(t, "acme/twice:1.0", amd)
			scan := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(),
				"--sbom-file", filepath.Join(t.TempDir(), "sbom.json"), "--attach-sbom"})...)
			if scan.code != 0 {
				t.Fatalf("scan: exit %d\n%s", scan.code, scan.stderr)
			}
			desc, err := remote.Get(ref, reg.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := referrer.Push(referrer.Subject{Repo: ref.Context(), Descriptor: desc.Descriptor}, "application/spdx+json", old,
				map[string]string{"org.opencontainers.image.created": "2000-01-01T00:00:00Z"}, reg.opts...); err != nil {
				t.Fatal(err)
			}
			r := runScan(t, slices.Concat(reg.login, common, []string{"--image-ref", ref.String(), "--sbom", "attached"})...)
			if r.code != 0 {
				t.Fatalf("rescan: exit %d\n%s", r.code, r.stderr)
			}
			if got, want := r.vulnIDs(), scan.vulnIDs(); !slices.Equal(got, want) {
				t.Errorf("rescan flagged %v, want the newest SBOM's %v", got, want)
			}
			if src := fmt.Sprint(r.report["source"]); !strings.Contains(src, scan.outputs["sbom-ref"]) {
				t.Errorf("the report names %s, want the newest %s", src, scan.outputs["sbom-ref"])
			}
		})
	}
}
