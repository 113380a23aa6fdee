package build

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

const (
	user = "ci"
	pass = "s3cret-Pa55word"
)

// registries are the real registries (with basic auth) every push test
// runs against: distribution v3 in-process and Debian's docker-registry
// 2.8, the latter required under CI=true.
func registries(t *testing.T) []*testenv.Registry {
	t.Helper()
	return testenv.Registries(t, user, pass)
}

// fileLayer is a layer holding the given files.
func fileLayer(t *testing.T, files map[string]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, body := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// baseImage is a tiny OCI image for one platform with one file layer.
func baseImage(t *testing.T, p v1.Platform, files map[string]string) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, fileLayer(t, files))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Architecture
	cf.Config.Env = []string{"PATH=/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushBaseIndex pushes a two-platform base the go builder builds on.
func pushBaseIndex(t *testing.T, reg *testenv.Registry) string {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}} {
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: baseImage(t, p, map[string]string{"etc/base-release": "tiny base " + p.Architecture + "\n"}), Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	ref := reg.Ref("base/static:1")
	r, _ := name.ParseReference(ref)
	if err := remote.WriteIndex(r, idx, reg.Options()...); err != nil {
		t.Fatal(err)
	}
	return ref
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) output(name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `=(.*)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		return ""
	}
	return m[1]
}

func runMain(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"build"}, args...), func(k string) string { return env[k] }, &out, &errb)
	return result{code, out.String(), errb.String()}
}

var pushEnv = map[string]string{
	"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main",
	"GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REPOSITORY": "acme/hello",
	"HOME": os.TempDir(),
}

func TestGoBuilderPushesReproducibleIndex(t *testing.T) {
	for _, reg := range registries(t) {
		t.Run(reg.Kind, func(t *testing.T) { testGoBuilderPush(t, reg) })
	}
}

func testGoBuilderPush(t *testing.T, reg *testenv.Registry) {
	base := pushBaseIndex(t, reg)
	image := reg.Ref("acme/hello")
	args := []string{
		"--builder", "go", "--context", "../../examples/code-repo", "--go-main", ".",
		"--go-ldflags", "-X main.version=acceptance", "--base-image", base,
		"--platforms", "linux/amd64,linux/arm64", "--image", image,
		"--tags", "type=sha\ntype=ref,event=branch", "--labels", "com.example.team=platform",
		"--registry-username", user, "--registry-password", pass,
	}
	first := runMain(t, pushEnv, args...)
	if first.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", first.code, first.stdout, first.stderr)
	}
	digest := first.output("digest")
	if !strings.HasPrefix(digest, "sha256:") || first.output("image-ref") != image+"@"+digest {
		t.Fatalf("outputs:\n%s", first.stdout)
	}
	if got := first.output("tags"); got != "main,sha-0123456" {
		t.Errorf("tags output %q", got)
	}

	// What the registry serves: an index with both platforms, under the digest and each tag.
	ref, _ := name.ParseReference(image + "@" + digest)
	idx, err := remote.Index(ref, reg.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"sha-0123456", "main"} {
		tr, _ := name.ParseReference(image + ":" + tag)
		d, err := remote.Head(tr, reg.Options()...)
		if err != nil || d.Digest.String() != digest {
			t.Errorf("tag %s: %v %v, want %s", tag, d, err, digest)
		}
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, m := range im.Manifests {
		plats = append(plats, m.Platform.String())
	}
	if strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("index platforms %v", plats)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/acme/hello",
		"org.opencontainers.image.revision": pushEnv["GITHUB_SHA"],
		"org.opencontainers.image.version":  "main",
		"org.opencontainers.image.title":    "hello",
		"com.example.team":                  "platform",
	} {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
		}
	}
	if cf.Config.Labels["org.opencontainers.image.created"] == "" || cf.Config.User != "65532:65532" {
		t.Errorf("created label %q, user %q", cf.Config.Labels["org.opencontainers.image.created"], cf.Config.User)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("want the base layer and the binary layer, got %d (%v)", len(layers), err)
	}
	bin := extract(t, layers[1], "app/code-repo")
	out, err := exec.Command(bin, "-version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello acceptance" {
		t.Errorf("running the linux/amd64 binary from the layer: %q %v", out, err)
	}

	second := runMain(t, pushEnv, args...)
	if second.code != 0 || second.output("digest") != digest {
		t.Errorf("second build: exit %d digest %q, want %q\n%s", second.code, second.output("digest"), digest, second.stderr)
	}
}

func extract(t *testing.T, l v1.Layer, file string) string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in layer: %v", file, err)
		}
		if h.Name == file {
			p := filepath.Join(t.TempDir(), filepath.Base(file))
			b, _ := io.ReadAll(tr)
			if err := os.WriteFile(p, b, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
}

func TestWrongPasswordIsExternalAndHidden(t *testing.T) {
	for _, reg := range registries(t) {
		t.Run(reg.Kind, func(t *testing.T) { testWrongPassword(t, reg) })
	}
}

func testWrongPassword(t *testing.T, reg *testenv.Registry) {
	wrong := "not-the-Pa55word-xyz"
	r := runMain(t, pushEnv, "--builder", "go", "--context", "../../examples/code-repo", "--go-main", ".",
		"--base-image", "scratch", "--image", reg.Ref("acme/hello"),
		"--registry-username", user, "--registry-password", wrong)
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, wrong) {
		t.Errorf("the password leaked:\n%s\n%s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "401") && !strings.Contains(strings.ToLower(r.stderr), "unauthorized") {
		t.Errorf("error should say the registry refused: %s", r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--go-main", "."}, `input "image"`},
		{[]string{"--image", "x/y", "--platforms", "amd64"}, `input "platforms"`},
		{[]string{"--image", "x/y", "--tags", "type=bogus"}, `input "tags"`},
		{[]string{"--image", "x/y", "--flavor", "latest=never"}, `input "flavor"`},
		{[]string{"--image", "x/y", "--build-args", "NOEQUALS"}, `input "build-args"`},
		{[]string{"--image", "x/y", "--registry-username", "u"}, `input "registry-password"`},
		{[]string{"--image", "x/y", "--insecure-registries", "http://reg.internal"}, `input "insecure-registries"`},
		{[]string{"--image", "x/y", "--context", "../../examples/code-repo", "--builder", "dockerfile", "--dockerfile", "Missing"}, `input "dockerfile"`},
		{[]string{"--image", "x/y", "--context", "../../internal/report"}, `input "builder"`},
		{[]string{"--image", "x/y", "--context", "../../examples/code-repo", "--target", "nope", "--lint-only"}, `input "target"`},
	} {
		r := runMain(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestLintGate(t *testing.T) {
	dir := t.TempDir()
	// Floats on :latest (error) and runs as root (warning).
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM alpine:latest\nCMD [\"true\"]\n"), 0o644)
	report := filepath.Join(dir, "report.json")
	r := runMain(t, nil, "--context", dir, "--lint-only", "--report-file", report)
	if r.code != 1 || !strings.Contains(r.stdout, "Dockerfile:1: error GA-DF-BASE-UNPINNED") {
		t.Errorf("lint-only with an error: exit %d\n%s", r.code, r.stdout)
	}
	b, _ := os.ReadFile(report)
	if !strings.Contains(string(b), `"source": "lint"`) && !strings.Contains(string(b), `"source":"lint"`) {
		t.Errorf("report lacks lint findings: %s", b)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM alpine:3.20\nCMD [\"true\"]\n"), 0o644)
	if r := runMain(t, nil, "--context", dir, "--lint-only"); r.code != 0 || !strings.Contains(r.stdout, "GA-DF-ROOT-USER") {
		t.Errorf("warnings under the error gate: exit %d\n%s", r.code, r.stdout)
	}
	if r := runMain(t, nil, "--context", dir, "--lint-only", "--lint", "warning"); r.code != 1 {
		t.Errorf("warnings under the warning gate: exit %d, want 1", r.code)
	}
	// The gate stops a build before any builder runs.
	if r := runMain(t, nil, "--context", dir, "--lint", "warning", "--image", "127.0.0.1:1/x"); r.code != 1 || !strings.Contains(r.stderr, "not building") {
		t.Errorf("gate before build: exit %d\n%s", r.code, r.stderr)
	}
}

func tarHas(r io.Reader, file string) bool {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		if strings.TrimPrefix(h.Name, "./") == file {
			return true
		}
	}
}
