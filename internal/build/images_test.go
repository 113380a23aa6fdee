package build

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"maps"
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
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// reportOf reads the JSON report a run wrote.
func reportOf(t *testing.T, path string) (outputs map[string]string, raw map[string]json.RawMessage) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &raw)
	return r.Outputs, raw
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// One build goes to two repositories on distribution v3 and one on the
// in-process registry: every reference and tag serves the same digest, the
// annotations are on the index and the manifests at the levels asked for,
// and the outputs list every reference.
func TestImagesPushOneDigestToEveryRepository(t *testing.T) {
	v3 := testenv.StartRegistry(t, user, pass)
	mem := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(mem.Close)
	memHost := strings.TrimPrefix(mem.URL, "http://")
	repos := []string{v3.Ref("acme/api"), v3.Ref("acme/mirror"), memHost + "/acme/api"}
	opts := map[string][]remote.Option{v3.Host: v3.Options(), memHost: nil}

	reportFile := filepath.Join(t.TempDir(), "report.json")
	r := runMain(t, pushEnv, "--builder", "go", "--context", "../../examples/code-repo", "--go-main", ".",
		"--base-image", "scratch", "--platforms", "linux/amd64,linux/arm64",
		"--images", strings.Join(repos, "\n"), "--tags", "type=sha\ntype=ref,event=branch",
		"--annotations", "org.example.team=platform, infra\nindex:org.example.index-only=yes\n"+
			"manifest[linux/arm64]:org.example.arm=1\nmanifest-descriptor:org.example.desc=d",
		"--registry-username", user, "--registry-password", pass, "--report-file", reportFile)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	out, _ := reportOf(t, reportFile)
	digest := out["digest"]
	if !strings.HasPrefix(digest, "sha256:") || out["image"] != repos[0] || out["image-ref"] != repos[0]+"@"+digest {
		t.Fatalf("single-image outputs: %v", out)
	}
	if got := lines(out["images"]); !slices.Equal(got, repos) {
		t.Errorf("images output %q, want %q", got, repos)
	}
	var wantRefs, wantTagRefs []string
	for _, repo := range repos {
		wantRefs = append(wantRefs, repo+"@"+digest)
		wantTagRefs = append(wantTagRefs, repo+":main", repo+":sha-0123456") // priority order: branch 600 before sha 100
	}
	if got := lines(out["image-refs"]); !slices.Equal(got, wantRefs) {
		t.Errorf("image-refs output %q, want %q", got, wantRefs)
	}
	if got := lines(out["tag-refs"]); !slices.Equal(got, wantTagRefs) {
		t.Errorf("tag-refs output %q, want %q", got, wantTagRefs)
	}
	var md Metadata
	if err := json.Unmarshal([]byte(out["metadata"]), &md); err != nil || !slices.Equal(md.Refs, wantRefs) || !slices.Equal(md.Tags, wantTagRefs) {
		t.Errorf("metadata %s (%v): want refs %q and tags %q", out["metadata"], err, wantRefs, wantTagRefs)
	}

	for _, ref := range append(slices.Clone(wantRefs), wantTagRefs...) {
		nr, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		d, err := remote.Head(nr, opts[nr.Context().RegistryStr()]...)
		if err != nil || d.Digest.String() != digest {
			t.Errorf("%s serves %v (%v), want %s", ref, d, err, digest)
		}
	}

	// The mirror on the same registry got its blobs by mount: a POST per
	// blob that the registry answers at once, no upload after it.
	mounts := 0
	for _, l := range v3.RequestLog() {
		if strings.Contains(l, "/acme/mirror/blobs/uploads/") {
			if !strings.HasPrefix(l, "POST ") {
				t.Errorf("blob uploaded to the mirror instead of mounted: %s", l)
			}
			mounts++
		}
	}
	if mounts == 0 {
		t.Errorf("no blob requests for the mirror:\n%s", strings.Join(v3.RequestLog(), "\n"))
	}

	// What a user reads back from the other registry.
	nr, _ := name.ParseReference(memHost + "/acme/api:main")
	idx, err := remote.Index(nr)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"org.example.team": "platform, infra", "org.example.index-only": "yes"} {
		if im.Annotations[k] != v {
			t.Errorf("index annotation %s = %q, want %q (all: %v)", k, im.Annotations[k], v, im.Annotations)
		}
	}
	if im.Annotations["org.opencontainers.image.created"] == "" {
		t.Errorf("the index lost its creation time: %v", im.Annotations)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("index has %d manifests", len(im.Manifests))
	}
	for _, d := range im.Manifests {
		if d.Annotations["org.example.desc"] != "d" {
			t.Errorf("%s descriptor annotations %v, want org.example.desc=d", d.Platform, d.Annotations)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		arm := d.Platform.Architecture == "arm64"
		if m.Annotations["org.example.team"] != "platform, infra" || (m.Annotations["org.example.arm"] == "1") != arm ||
			m.Annotations["org.example.index-only"] != "" || m.Annotations["org.opencontainers.image.created"] == "" {
			t.Errorf("%s manifest annotations %v", d.Platform, m.Annotations)
		}
	}
	ann := lines(out["annotations"])
	for _, want := range []string{
		"index:org.example.index-only=yes", "index:org.example.team=platform, infra",
		"manifest:org.example.team=platform, infra", "manifest[linux/arm64]:org.example.arm=1",
		"manifest-descriptor[linux/amd64]:org.example.desc=d",
	} {
		if !slices.Contains(ann, want) {
			t.Errorf("annotations output lacks %q:\n%s", want, out["annotations"])
		}
	}
}

// The second registry never answers: exit 3, and the error and the report
// say what reached the first one; no output claims a push.
func TestImagesPartialPushExits3NamingWhatWasPushed(t *testing.T) {
	v3 := testenv.StartRegistry(t, user, pass)
	silent := testenv.Silent(t) + "/acme/api"
	first := v3.Ref("acme/api")
	dir := t.TempDir()
	reportFile := filepath.Join(dir, "report.json")
	ctx := transport.WithOptions(context.Background(), transport.Tight(3*time.Second, 2))
	var errb strings.Builder
	var outb strings.Builder
	var code int
	testenv.Within(t, 90*time.Second, func() {
		code = Main(ctx, []string{"build", "--builder", "go", "--context", "../../examples/code-repo", "--go-main", ".",
			"--base-image", "scratch", "--images", first + "," + silent, "--tags", "type=raw,value=v1",
			"--registry-username", user, "--registry-password", pass, "--report-file", reportFile},
			func(k string) string { return pushEnv[k] }, &outb, &errb)
	})
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, outb.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "already pushed: "+first+"@sha256:") || !strings.Contains(errb.String(), first+":v1") {
		t.Errorf("stderr should name what was pushed:\n%s", errb.String())
	}
	if strings.Contains(outb.String(), "image-refs=") || strings.Contains(outb.String(), "digest=") {
		t.Errorf("outputs set after a failed push:\n%s", outb.String())
	}
	out, raw := reportOf(t, reportFile)
	var pushed Pushed
	if err := json.Unmarshal(raw["pushed"], &pushed); err != nil || len(pushed.Refs) != 1 || !strings.HasPrefix(pushed.Refs[0], first+"@sha256:") {
		t.Errorf("report pushed = %s (%v), outputs %v", raw["pushed"], err, out)
	}
	var status string
	json.Unmarshal(raw["status"], &status)
	if status != "error" {
		t.Errorf("report status %q, want error", status)
	}
	// And it is true: the first registry has it.
	nr, _ := name.ParseReference(first + ":v1")
	if d, err := remote.Head(nr, v3.Options()...); err != nil || d.Digest.String() != strings.TrimPrefix(pushed.Refs[0], first+"@") {
		t.Errorf("%s: %v %v", nr, d, err)
	}
}

func TestImagesAndAnnotationsUsageErrors(t *testing.T) {
	two := []string{"--platforms", "linux/amd64,linux/arm64"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--images", "ghcr.io/acme/api:1.0"}, `input "images": "ghcr.io/acme/api:1.0" has a tag or digest`},
		{[]string{"--images", "ghcr.io/acme/api,quay.io/acme/api@sha256:" + strings.Repeat("a", 64)}, `input "images": "quay.io/acme/api@sha256:`},
		{[]string{"--images", "acme/api\ndocker.io/acme/api"}, `input "images": "acme/api" and "docker.io/acme/api" are the same repository`},
		{[]string{"--images", "ghcr.io/Acme/api"}, `input "images": "ghcr.io/Acme/api" is not an image repository`},
		{[]string{"--image", "ghcr.io/acme/api", "--images", "quay.io/acme/api"}, `input "images": set image (one repository) or images`},
		{[]string{"--image", "x/y", "--annotations", "=v"}, `input "annotations": "=v": the key "" is empty`},
		{[]string{"--image", "x/y", "--annotations", "org.example.a b=v"}, `input "annotations": "org.example.a b=v": the key "org.example.a b" is empty or holds white space`},
		{[]string{"--image", "x/y", "--annotations", "manifest:=v"}, `input "annotations": "manifest:=v": the key "" is empty`},
		{[]string{"--image", "x/y", "--annotations", "novalue"}, `input "annotations": "novalue" is not [level:]KEY=VALUE`},
		{[]string{"--image", "x/y", "--annotations", "layer:k=v"}, `unknown level "layer"`},
		{[]string{"--image", "x/y", "--annotations", "index:k=v"}, `input "annotations": "index:k=v": an index annotation needs an index`},
		{append([]string{"--image", "x/y", "--annotations", "manifest[linux/s390x]:k=v"}, two...), `platform "linux/s390x" is not one of the platforms built`},
		{append([]string{"--image", "x/y", "--annotations", "index[linux/amd64]:k=v"}, two...), `only manifest and manifest-descriptor annotations take [platforms]`},
		{append([]string{"--image", "x/y", "--annotations", "index-descriptor:k=v"}, two...), `needs several platforms and local-output`},
	} {
		r := runMain(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 with %s", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// Descriptor-level annotations land in local-output's index.json, the only
// place that holds a descriptor of what was built.
func TestDescriptorAnnotationsInLocalOutput(t *testing.T) {
	dir := t.TempDir()
	env := maps.Clone(pushEnv)
	r := runMain(t, env, "--builder", "go", "--context", "../../examples/code-repo", "--go-main", ".",
		"--base-image", "scratch", "--platforms", "linux/amd64,linux/arm64", "--push=false", "--local-output", dir, "--tags", "type=ref,event=branch",
		"--images", "registry.example/acme/api,registry.example/acme/other",
		"--annotations", "index-descriptor:org.example.where=layout\nmanifest-descriptor[linux/amd64]:org.example.amd=yes")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top v1.IndexManifest
	if err := json.Unmarshal(b, &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json %s (%v)", b, err)
	}
	d := top.Manifests[0]
	if d.Annotations["org.example.where"] != "layout" || d.Annotations["org.opencontainers.image.ref.name"] != "registry.example/acme/api:main" {
		t.Errorf("layout descriptor annotations %v", d.Annotations)
	}
	if d.Digest.String() != r.output("digest") {
		t.Errorf("layout holds %s, digest output %s", d.Digest, r.output("digest"))
	}
}

// buildah builds once; both registries get the same digest, and the
// annotations (with the creation time) are on the manifest each serves.
func TestBuildahImagesAndAnnotations(t *testing.T) {
	needBuildah(t)
	v3 := testenv.StartRegistry(t, user, pass)
	mem := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(mem.Close)
	memHost := strings.TrimPrefix(mem.URL, "http://")
	base := v3.Ref("base/runtime:1")
	br, _ := name.ParseReference(base)
	if err := remote.Write(br, baseImage(t, v1.Platform{OS: "linux", Architecture: "amd64"}, map[string]string{"etc/os-release": "tiny\n"}), v3.Options()...); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nCOPY app.txt /srv/app.txt\nUSER 65532:65532\nENTRYPOINT [\"/srv/app\"]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.txt"), []byte("context file\n"), 0o644)
	env := maps.Clone(pushEnv)
	env["SOURCE_DATE_EPOCH"] = "1700000000"
	reportFile := filepath.Join(dir, "report.json")
	repos := []string{v3.Ref("acme/api"), memHost + "/acme/api"}
	r := runMain(t, env, "--context", dir, "--images", strings.Join(repos, ","), "--tags", "type=raw,value=edge",
		"--annotations", "org.opencontainers.image.description=two registries, one digest\nmanifest:org.example.level=manifest",
		"--registry-username", user, "--registry-password", pass, "--report-file", reportFile)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	out, _ := reportOf(t, reportFile)
	digest := out["digest"]
	if got := lines(out["image-refs"]); !slices.Equal(got, []string{repos[0] + "@" + digest, repos[1] + "@" + digest}) {
		t.Errorf("image-refs %q", got)
	}
	for _, repo := range repos {
		nr, _ := name.ParseReference(repo + ":edge")
		o := v3.Options()
		if nr.Context().RegistryStr() == memHost {
			o = nil
		}
		img, err := remote.Image(nr, o...)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		m, err := img.Manifest()
		if err != nil || d.String() != digest {
			t.Fatalf("%s: digest %s (want %s), %v", nr, d, digest, err)
		}
		for k, v := range map[string]string{
			"org.opencontainers.image.description": "two registries, one digest", "org.example.level": "manifest",
			"org.opencontainers.image.created": "2023-11-14T22:13:20Z",
		} {
			if m.Annotations[k] != v {
				t.Errorf("%s: annotation %s = %q, want %q", nr, k, m.Annotations[k], v)
			}
		}
	}
	if !slices.Contains(lines(out["annotations"]), "manifest:org.opencontainers.image.description=two registries, one digest") {
		t.Errorf("annotations output:\n%s", out["annotations"])
	}
}
