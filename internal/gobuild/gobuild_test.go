package gobuild

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

func build(t *testing.T) Result {
	t.Helper()
	res, err := Build(context.Background(), Options{
		Dir: "../../examples/code-repo", Main: ".", Ldflags: "-X main.version=unit",
		Platforms: platforms, Base: ScratchBase,
		Labels:  map[string]string{"org.opencontainers.image.revision": "abc"},
		Created: time.Unix(1700000000, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestBuildIsReproducibleAndRuns(t *testing.T) {
	a, b := build(t), build(t)
	da, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds of the same sources: %s != %s", da, db)
	}
	im, err := a.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || im.Manifests[0].Platform.String() != "linux/amd64" || im.Manifests[1].Platform.String() != "linux/arm64" {
		t.Fatalf("index manifests: %+v", im.Manifests)
	}
	img := a.Images["linux/amd64"]
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Annotations["org.opencontainers.image.created"]; got != "2023-11-14T22:13:20Z" || im.Annotations["org.opencontainers.image.created"] != got {
		t.Errorf("created annotation: image %q, index %q; want the commit time 2023-11-14T22:13:20Z on both", got, im.Annotations["org.opencontainers.image.created"])
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != NonRoot || strings.Join(cf.Config.Entrypoint, " ") != "/app/code-repo" || cf.Architecture != "amd64" || cf.Config.Labels["org.opencontainers.image.revision"] != "abc" || !cf.Created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("config: user %q entrypoint %q arch %q labels %v created %v", cf.Config.User, cf.Config.Entrypoint, cf.Architecture, cf.Config.Labels, cf.Created)
	}
	// Extract the binary from the one layer and run it.
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	bin := filepath.Join(t.TempDir(), "app")
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatal("no /app/code-repo in the layer")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: uid %d gid %d mtime %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		if h.Name == "app/code-repo" {
			f, _ := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			io.Copy(f, tr)
			f.Close()
			break
		}
	}
	out, err := exec.Command(bin, "-version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello unit" {
		t.Errorf("running the amd64 binary: %q %v", out, err)
	}
}

func TestBinaryName(t *testing.T) {
	for main, want := range map[string]string{"./cmd/server": "server", ".": "code-repo", "example.com/x/cmd/api": "api"} {
		if got := BinaryName("../../examples/code-repo", main); got != want {
			t.Errorf("BinaryName(%q) = %q, want %q", main, got, want)
		}
	}
}
