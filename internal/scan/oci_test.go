package scan

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// writeLayout writes img as an OCI layout: index.json lists the image.
func writeLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tarLayout packs dir as people do by hand, with the real tar: its
// entries are "./", "./index.json", "./blobs/sha256/…".
func tarLayout(t *testing.T, dir string) string {
	t.Helper()
	bin, err := exec.LookPath("tar")
	if err != nil {
		t.Fatalf("tar (Debian package tar) is needed: %v", err)
	}
	out := filepath.Join(t.TempDir(), "image.tar")
	if b, err := exec.Command(bin, "-C", dir, "-cf", out, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
	return out
}

func readIndex(t *testing.T, dir string) v1.IndexManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func writeJSON(t *testing.T, path string, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func blob(dir string, h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }

// putBlob stores b under its own digest and returns its descriptor.
func putBlob(t *testing.T, dir string, mt types.MediaType, b []byte) v1.Descriptor {
	t.Helper()
	d := v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}}
	if err := os.WriteFile(blob(dir, d.Digest), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// fakeDigest names a blob whose content does not hash to its name, which
// is the only way an index can list itself or a cycle of indexes exist.
func fakeDigest(seed string) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256([]byte(seed)))}
}

// indexListing is an index whose only entry is an index named h of size n.
func indexListing(h v1.Hash, n int64) v1.IndexManifest {
	return v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{MediaType: types.OCIImageIndex, Digest: h, Size: n}}}
}

// writeFakeIndex writes, under the name h, an index listing next; its
// descriptor gives its true size, so only its digest is wrong.
func writeFakeIndex(t *testing.T, dir string, h, next v1.Hash, nextSize int64) int64 {
	t.Helper()
	return int64(len(writeJSON(t, blob(dir, h), indexListing(next, nextSize))))
}

// listOnly makes index.json list d alone.
func listOnly(t *testing.T, dir string, d v1.Descriptor) {
	t.Helper()
	writeJSON(t, filepath.Join(dir, "index.json"), v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{d}})
}

// hostileLayouts spoil a layout of the fixture image; want is what the
// error must say besides naming the input.
var hostileLayouts = []struct {
	name, want string
	spoil      func(t *testing.T, dir string)
}{
	{"an index lists itself", "damaged or tampered with", func(t *testing.T, dir string) {
		self := fakeDigest("self")
		// Its size field is its own length: iterate to the fixed point.
		var n int64
		for range 3 {
			n = writeFakeIndex(t, dir, self, self, n)
		}
		listOnly(t, dir, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: self, Size: n})
	}},
	{"two indexes list each other", "damaged or tampered with", func(t *testing.T, dir string) {
		a, b := fakeDigest("a"), fakeDigest("b")
		var na, nb int64
		for range 3 {
			na = writeFakeIndex(t, dir, a, b, nb)
			nb = writeFakeIndex(t, dir, b, a, na)
		}
		listOnly(t, dir, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: a, Size: na})
	}},
	{"indexes nest too deep", "nest more than", func(t *testing.T, dir string) {
		d := readIndex(t, dir).Manifests[0]
		for range 12 {
			b, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{d}})
			d = putBlob(t, dir, types.OCIImageIndex, b)
		}
		listOnly(t, dir, d)
	}},
	{"a layer's content does not match its digest", "damaged or tampered with", func(t *testing.T, dir string) {
		m := manifestOf(t, dir)
		p := blob(dir, m.Layers[0].Digest)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}},
	{"the config does not match its digest", "damaged or tampered with", func(t *testing.T, dir string) {
		p := blob(dir, manifestOf(t, dir).Config.Digest)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// Same length, other content: an image claiming another OS.
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), `"os":"linux"`, `"os":"LINUX"`, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}},
	{"index.json gives the manifest a wrong size", "its descriptor says", func(t *testing.T, dir string) {
		idx := readIndex(t, dir)
		idx.Manifests[0].Size++
		writeJSON(t, filepath.Join(dir, "index.json"), idx)
	}},
	{"a layer is a symlink out of the layout", "", func(t *testing.T, dir string) {
		// The outside file even has the right content: where it lies is
		// what is refused.
		p := blob(dir, manifestOf(t, dir).Layers[0].Digest)
		outside := filepath.Join(t.TempDir(), "outside")
		if err := os.Rename(p, outside); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, p); err != nil {
			t.Fatal(err)
		}
	}},
}

func manifestOf(t *testing.T, dir string) *v1.Manifest {
	t.Helper()
	f, err := os.Open(blob(dir, readIndex(t, dir).Manifests[0].Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := v1.ParseManifest(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// An OCI layout, as a directory or packed with `tar -C layout -cf x.tar .`,
// scans like the docker tarball of the same image.
func TestOCILayoutAndTar(t *testing.T) {
	img, _ := fixture(t)
	cache := newCache(t, time.Now())
	dir := writeLayout(t, img)
	for what, input := range map[string]string{"directory": dir, "tar of the directory": tarLayout(t, dir)} {
		t.Run(what, func(t *testing.T) {
			r := runScan(t, "--input", input, "--cache-dir", cache, "--skip-db-update", "--severity", allSeverities, "--fail-on", "none",
				"--sbom-file", filepath.Join(t.TempDir(), "sbom.json"))
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if got := r.vulnIDs(); !slices.Equal(got, wantDetected) {
				t.Errorf("flagged %v, want %v", got, wantDetected)
			}
		})
	}
}

// A hostile or damaged layout stops the scan at once with exit 2 naming
// input, as a directory and as a tarball: no blob is used before it matches
// its digest and size, and no index chain is followed forever.
func TestHostileOCILayout(t *testing.T) {
	img, _ := fixture(t)
	cache := newCache(t, time.Now())
	for _, h := range hostileLayouts {
		t.Run(h.name, func(t *testing.T) {
			dir := writeLayout(t, img)
			h.spoil(t, dir)
			inputs := map[string]string{"directory": dir, "tar": tarLayout(t, dir)}
			for what, input := range inputs {
				r := runScan(t, "--input", input, "--cache-dir", cache, "--skip-db-update", "--fail-on", "none",
					"--sbom-file", filepath.Join(t.TempDir(), "sbom.json"))
				if r.code != 2 || !strings.Contains(r.stderr, `input "input"`) || !strings.Contains(r.stderr, h.want) {
					t.Errorf("%s: exit %d, want 2 naming input and saying %q\n%s", what, r.code, h.want, r.stderr)
				}
				assertNoTrace(t, r)
			}
		})
	}
}
