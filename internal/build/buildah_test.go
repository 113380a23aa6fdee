package build

import (
	"bytes"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

func needBuildah(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("buildah"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("buildah is not installed (Debian package buildah); .ci/run installs it")
		}
		t.Skip("buildah is not installed (Debian package buildah)")
	}
	if dockerAnswers(t.Context()) {
		t.Skip("a Docker daemon answers, so the action would use buildx, not buildah")
	}
}

// The Dockerfile builder builds a two-stage Dockerfile whose stages come
// from images pushed to the registry (behind auth), pushes the result, and
// its digest output is what the registry serves.
func TestBuildahTwoStagePush(t *testing.T) {
	needBuildah(t)
	for _, reg := range registries(t) {
		t.Run(reg.Kind, func(t *testing.T) { testBuildahTwoStagePush(t, reg) })
	}
}

func testBuildahTwoStagePush(t *testing.T, reg *testenv.Registry) {
	host := reg.Host
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	for ref, files := range map[string]map[string]string{
		host + "/base/assets:1":  {"etc/greeting": "hello from the first stage\n"},
		host + "/base/runtime:1": {"etc/runtime-release": "runtime 1\n"},
	} {
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, baseImage(t, amd64, files), reg.Options()...); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	df := "FROM " + host + "/base/assets:1 AS assets\n" +
		"FROM " + host + "/base/runtime:1\n" +
		"ARG GREETING_DIR=/srv\n" +
		"COPY --from=assets /etc/greeting ${GREETING_DIR}/greeting\n" +
		"COPY app.txt /srv/app.txt\n" +
		"USER 65532:65532\n" +
		"ENTRYPOINT [\"/srv/app\"]\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	os.WriteFile(filepath.Join(dir, "app.txt"), []byte("context file\n"), 0o644)

	image := host + "/acme/two-stage"
	// Base tags without digests give notices only, so the error gate passes.
	env := maps.Clone(pushEnv)
	env["SOURCE_DATE_EPOCH"] = "1700000000"
	r := runMain(t, env, "--context", dir, "--image", image, "--build-args", "GREETING_DIR=/opt",
		"--labels", "com.example.stage=two", "--tags", "type=sha\ntype=raw,value=edge",
		"--registry-username", user, "--registry-password", pass)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, pass) {
		t.Error("the password appears in the output")
	}
	digest := r.output("digest")
	ref, _ := name.ParseReference(image + ":edge")
	desc, err := remote.Get(ref, reg.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != digest || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("digest output %q, registry serves %s", digest, desc.Digest)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	// The creation time is on the manifest too, for prune-images.
	if m, err := img.Manifest(); err != nil || m.Annotations["org.opencontainers.image.created"] != "2023-11-14T22:13:20Z" {
		t.Errorf("manifest annotations %v (%v), want org.opencontainers.image.created 2023-11-14T22:13:20Z", m.Annotations, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.Labels["com.example.stage"] != "two" || cf.Config.Labels["org.opencontainers.image.revision"] != pushEnv["GITHUB_SHA"] || cf.Config.User != "65532:65532" {
		t.Errorf("config labels %v user %q", cf.Config.Labels, cf.Config.User)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, l := range layers {
		for _, f := range []string{"opt/greeting", "srv/app.txt", "etc/runtime-release"} {
			if hasFile(t, l, f) {
				found[f] = true
			}
		}
	}
	if len(found) != 3 {
		t.Errorf("files in the image: %v, want the runtime base, the first stage's greeting under the build-arg dir and the context file", found)
	}
}

func hasFile(t *testing.T, l v1.Layer, file string) bool {
	t.Helper()
	return tarHas(bytes.NewReader(layerBytes(t, l)), file)
}

// layerBytes is the layer's uncompressed tar.
func layerBytes(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
