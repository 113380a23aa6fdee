package scan

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitops-actions/gitops-actions/internal/scanfixture"
)

// countingRegistry is an in-process OCI registry behind basic auth that
// counts blob downloads by digest.
type countingRegistry struct {
	host string
	mu   sync.Mutex
	gets map[string]int
}

func startRegistry(t *testing.T, user, pass string) *countingRegistry {
	t.Helper()
	cr := &countingRegistry{gets: map[string]int{}}
	reg := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			cr.mu.Lock()
			cr.gets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
			cr.mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cr.host = strings.TrimPrefix(srv.URL, "http://")
	return cr
}

func (cr *countingRegistry) blobGets(d v1.Hash) int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.gets[d.String()]
}

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

// Scan by image-ref with credentials: the image is pulled once (every blob
// fetched exactly once), the database comes from db-repository into the
// cache in trivy's layout, and attach-sbom makes the SBOM discoverable
// from the image digest.
func TestRegistryScanAndAttach(t *testing.T) {
	img, _ := fixture(t)
	cr := startRegistry(t, "ci", "s3cret")
	auth := remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"})
	ref, err := name.ParseReference(cr.host + "/acme/api:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, auth); err != nil {
		t.Fatal(err)
	}
	dbRef := cr.host + "/mirror/trivy-db:2"
	dbRefParsed, _ := name.ParseReference(dbRef)
	if err := remote.Write(dbRefParsed, dbArtifact(t, time.Now().Add(-2*time.Hour)), auth); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cr.mu.Lock()
	clear(cr.gets)
	cr.mu.Unlock()

	cache := t.TempDir()
	sbomFile := filepath.Join(t.TempDir(), "sbom.json")
	r := runScan(t, "--image-ref", ref.String(), "--registry-username", "ci", "--registry-password", "s3cret",
		"--db-repository", dbRef, "--cache-dir", cache, "--sbom-file", sbomFile, "--attach-sbom", "--fail-on", "none")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "s3cret") {
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
	cfgName, _ := img.ConfigName()
	layers, _ := img.Layers()
	blobs := []v1.Hash{cfgName}
	for _, l := range layers {
		d, _ := l.Digest()
		blobs = append(blobs, d)
	}
	for _, b := range blobs {
		if n := cr.blobGets(b); n != 1 {
			t.Errorf("blob %s fetched %d times, want 1", b, n)
		}
	}

	// Discoverable from the image digest.
	subject := ref.Context().Digest(digest.String())
	idx, err := remote.Referrers(subject, auth)
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
	art, err := remote.Image(ref.Context().Digest(im.Manifests[0].Digest.String()), auth)
	if err != nil {
		t.Fatal(err)
	}
	al, _ := art.Layers()
	rc, err := al[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got bytes.Buffer
	got.ReadFrom(rc)
	want, _ := os.ReadFile(sbomFile)
	if !bytes.Equal(got.Bytes(), want) {
		t.Error("the attached SBOM differs from sbom-file")
	}
}
