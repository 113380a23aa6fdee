package scan

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// dbArtifact packs a test database as trivy publishes it: one gzipped tar
// layer of trivy.db and metadata.json.
func dbArtifact(t *testing.T, updatedAt time.Time) v1.Image {
	t.Helper()
	dir := t.TempDir()
	if err := scanfixture.WriteDB(dir, testAdvisories, updatedAt); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []string{"trivy.db", "metadata.json"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: f, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	gz.Close()
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer(buf.Bytes(), "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"),
		Annotations: map[string]string{"org.opencontainers.image.title": "db.tar.gz"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), "application/vnd.aquasec.trivy.config.v1+json")
}

// Scan by image-ref with credentials against every real registry the
// harness has: the image is pulled once (its config and every layer fetched
// exactly once), the database comes from db-repository into the cache in
// trivy's layout, and attach-sbom makes the SBOM discoverable from the image
// digest. Neither registry serves the referrers API, so the SBOM must be
// found through the sha256-<digest> tag that stands in for it.
func TestRegistryScanAndAttach(t *testing.T) {
	img, _ := fixture(t)
	for _, reg := range testenv.Registries(t, "ci", "s3cret") {
		t.Run(reg.Kind, func(t *testing.T) { testRegistryScanAndAttach(t, reg, img) })
	}
}

func testRegistryScanAndAttach(t *testing.T, reg *testenv.Registry, img v1.Image) {
	opts := reg.Options()
	ref, err := name.ParseReference(reg.Ref("acme/api:1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatal(err)
	}
	dbRef := reg.Ref("mirror/trivy-db:2")
	dbRefParsed, err := name.ParseReference(dbRef)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dbRefParsed, dbArtifact(t, time.Now().Add(-2*time.Hour)), opts...); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	reg.ResetRequests()

	cache := t.TempDir()
	sbomFile := filepath.Join(t.TempDir(), "sbom.json")
	r := runScan(t, "--image-ref", ref.String(), "--registry-username", reg.Username, "--registry-password", reg.Password,
		"--db-repository", dbRef, "--cache-dir", cache, "--sbom-file", sbomFile, "--attach-sbom", "--fail-on", "none")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, reg.Password) {
		t.Error("the password leaked into the output")
	}
	for _, f := range []string{"db/trivy.db", "db/metadata.json"} {
		if _, err := os.Stat(filepath.Join(cache, f)); err != nil {
			t.Errorf("cache-dir lacks %s: %v", f, err)
		}
	}
	if got := r.vulnIDs(); strings.Join(got, ",") != strings.Join(wantDetected, ",") {
		t.Errorf("flagged %v, want %v", got, wantDetected)
	}

	// Pulled once: the config and each layer were downloaded exactly once.
	cfgName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	blobs := []v1.Hash{cfgName}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, d)
	}
	requests := reg.RequestLog()
	for _, b := range blobs {
		get := "GET /v2/acme/api/blobs/" + b.String()
		if n := countLines(requests, get); n != 1 {
			t.Errorf("%s sent %d times, want 1", get, n)
		}
	}
	if t.Failed() {
		t.Logf("requests of the scan:\n%s", strings.Join(requests, "\n"))
	}

	// Discoverable from the image digest, through the fallback tag.
	subject := ref.Context().Digest(digest.String())
	fallback := ref.Context().Tag(strings.Replace(digest.String(), ":", "-", 1))
	if _, err := remote.Index(fallback, opts...); err != nil {
		t.Errorf("no referrers index at the fallback tag %s: %v", fallback, err)
	}
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].ArtifactType != "application/spdx+json" {
		t.Fatalf("referrers of %s: %+v", subject, im.Manifests)
	}
	if want := ref.Context().Digest(im.Manifests[0].Digest.String()).String(); r.outputs["sbom-ref"] != want {
		t.Errorf("sbom-ref %q, want %q", r.outputs["sbom-ref"], want)
	}
	art, err := remote.Image(ref.Context().Digest(im.Manifests[0].Digest.String()), opts...)
	if err != nil {
		t.Fatal(err)
	}
	al, err := art.Layers()
	if err != nil || len(al) != 1 {
		t.Fatalf("SBOM artifact layers: %d, %v", len(al), err)
	}
	rc, err := al[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(sbomFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the attached SBOM (%d bytes) differs from sbom-file (%d bytes)", len(got), len(want))
	}
}

// countLines counts the entries of lines equal to line.
func countLines(lines []string, line string) int {
	n := 0
	for _, l := range lines {
		if l == line {
			n++
		}
	}
	return n
}
