package build

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

// startTLSRegistry serves a registry over HTTPS with a certificate no one
// trusts, on 127.0.0.2: a loopback address the action does not treat as
// local, so it stands for a remote registry such as gcr.io.
func startTLSRegistry(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listening on 127.0.0.2: %v", err)
	}
	srv := httptest.NewUnstartedServer(registry.New())
	srv.Listener.Close()
	srv.Listener = l
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := l.Addr().String()
	ref, err := name.ParseReference(host + "/base/runtime:1")
	if err != nil {
		t.Fatal(err)
	}
	img := baseImage(t, v1.Platform{OS: "linux", Architecture: "amd64"}, map[string]string{"etc/runtime-release": "runtime 1\n"})
	// The set-up push alone skips verification: the certificate names 127.0.0.1.
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.InsecureSkipVerify = true
	if err := remote.Write(ref, img, remote.WithTransport(tr)); err != nil {
		t.Fatal(err)
	}
	return host
}

// A build that pushes to a plain-HTTP registry on localhost still verifies
// TLS for every other registry it pulls from: the base image on a registry
// with an untrusted certificate is refused, unless insecure-registries
// names that registry.
func TestInsecureOnlyForNamedRegistries(t *testing.T) {
	tlsHost := startTLSRegistry(t)
	reg := testenv.StartRegistry(t, user, pass)
	base := tlsHost + "/base/runtime:1"
	t.Run("go", func(t *testing.T) {
		testInsecureOnlyForNamed(t, reg, tlsHost, "--builder", "go", "--context", "../../examples/code-repo", "--go-main", ".", "--base-image", base)
	})
	t.Run("buildah", func(t *testing.T) {
		needBuildah(t)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nCOPY app.txt /srv/app.txt\nUSER 65532\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "app.txt"), []byte("context file\n"), 0o644)
		testInsecureOnlyForNamed(t, reg, tlsHost, "--context", dir, "--lint", "off")
	})
}

func testInsecureOnlyForNamed(t *testing.T, reg *testenv.Registry, tlsHost string, args ...string) {
	args = append(args, "--image", reg.Ref("acme/app"), "--registry-username", user, "--registry-password", pass)
	r := runMain(t, pushEnv, args...)
	if r.code != 3 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("base image on an untrusted TLS registry, push to localhost: exit %d, want 3 with a certificate error\n%s", r.code, r.stderr)
	}
	if r.output("digest") != "" {
		t.Errorf("a digest was output: %s", r.stdout)
	}
	r = runMain(t, pushEnv, append(args, "--insecure-registries", tlsHost)...)
	if r.code != 0 || !strings.HasPrefix(r.output("digest"), "sha256:") {
		t.Errorf("with insecure-registries %s: exit %d, want 0 and a digest\n%s\n%s", tlsHost, r.code, r.stdout, r.stderr)
	}
}

// The registries.conf given to buildah keeps what the machine's file says
// and marks only the named hosts insecure, in either file format.
func TestMarkInsecure(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `[[registry]] insecure = true location = "127.0.0.1:5000"`},
		{"unqualified-search-registries = [\"docker.io\"]\n[[registry]]\nlocation = \"127.0.0.1:5000\"\n[[registry]]\nlocation = \"quay.io\"\n",
			`unqualified-search-registries = ["docker.io"] [[registry]] insecure = true location = "127.0.0.1:5000" [[registry]] location = "quay.io"`},
		{"[registries.search]\nregistries = [\"docker.io\"]\n",
			`[registries] [registries.insecure] registries = ["127.0.0.1:5000"] [registries.search] registries = ["docker.io"]`},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM 127.0.0.1:5000/base:1\nFROM gcr.io/distroless/static-debian12\n"), 0o644)
		in := filepath.Join(dir, "registries.conf")
		os.WriteFile(in, []byte(tc.in), 0o644)
		ra := &registryAccess{getenv: func(k string) string { return map[string]string{"CONTAINERS_REGISTRIES_CONF": in}[k] }}
		p, err := ra.registriesConf(Config{Dockerfile: "Dockerfile"}, filepath.Join(dir, "Dockerfile"), dir)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if got := strings.Join(strings.Fields(string(b)), " "); got != tc.want {
			t.Errorf("from %q:\ngot  %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
