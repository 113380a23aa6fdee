package testenv

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const (
	testUser     = "alice"
	testPassword = "s3cret-pw"
)

// call sends one request to the registry, with basic auth unless user is
// "", and returns the status and body.
func call(t *testing.T, r *Registry, method, path, user, password string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL+path, nil)
	if err != nil {
		t.Fatalf("new request %s %q: %v", method, path, err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %q: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s %q: %v", method, path, err)
	}
	return resp.StatusCode, string(body)
}

func TestRegistries(t *testing.T) {
	regs := Registries(t, testUser, testPassword)
	if inCI() && len(regs) != 2 {
		t.Fatalf("under CI=true both registries must run, got %d", len(regs))
	}
	for _, r := range regs {
		t.Run(r.Kind, func(t *testing.T) {
			// The registries are independent: check them side by side.
			t.Parallel()
			if !strings.HasPrefix(r.Host, "127.0.0.1:") || r.URL != "http://"+r.Host {
				t.Errorf("Host %q URL %q, want 127.0.0.1:port and http://Host", r.Host, r.URL)
			}
			if got := r.Ref("app"); got != r.Host+"/app" {
				t.Errorf("Ref(%q) = %q", "app", got)
			}
			t.Run("push and read back by digest", func(t *testing.T) { testPushPull(t, r) })
			t.Run("auth required", func(t *testing.T) { testAuth(t, r) })
			t.Run("request counter", func(t *testing.T) { testCounter(t, r) })
			t.Run("delete", func(t *testing.T) { testDelete(t, r) })
			t.Run("referrers", func(t *testing.T) { testReferrers(t, r) })
			t.Run("index", func(t *testing.T) { testIndex(t, r) })
		})
	}
}

func testPushPull(t *testing.T, r *Registry) {
	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(r.Ref("pushpull:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, r.Options()...); err != nil {
		t.Fatalf("push %q: %v", tag, err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	byDigest, err := name.NewDigest(r.Ref("pushpull@" + digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(byDigest, r.Options()...)
	if err != nil {
		t.Fatalf("pull %q: %v", byDigest, err)
	}
	wantLayers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	gotLayers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(gotLayers) != len(wantLayers) {
		t.Fatalf("pulled %d layers, pushed %d", len(gotLayers), len(wantLayers))
	}
	for i := range wantLayers {
		want, _ := wantLayers[i].Digest()
		// Reading the blob makes the registry serve it: a manifest alone
		// would not prove the layers arrived.
		rc, err := gotLayers[i].Compressed()
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n == 0 {
			t.Fatalf("read layer %d (%d bytes): %v", i, n, err)
		}
		gotDigest, _ := gotLayers[i].Digest()
		if gotDigest != want {
			t.Errorf("layer %d digest %s, want %s", i, gotDigest, want)
		}
	}

	pushed := PushRandomImage(t, r, "helper:v1")
	desc, err := remote.Head(mustRef(t, r.Ref("helper:v1")), r.Options()...)
	if err != nil {
		t.Fatalf("head helper:v1: %v", err)
	}
	if desc.Digest != pushed {
		t.Errorf("PushRandomImage returned %s, registry has %s", pushed, desc.Digest)
	}
	// A full reference in the registry is accepted as well.
	PushRandomImage(t, r, r.Ref("helper:v2"))
}

func testAuth(t *testing.T, r *Registry) {
	status, _ := call(t, r, http.MethodGet, "/v2/", "", "", nil)
	if status != http.StatusUnauthorized {
		t.Errorf("anonymous GET /v2/: %d, want 401", status)
	}
	status, _ = call(t, r, http.MethodGet, "/v2/", testUser, "wrong", nil)
	if status != http.StatusUnauthorized {
		t.Errorf("GET /v2/ with a wrong password: %d, want 401", status)
	}
	status, _ = call(t, r, http.MethodGet, "/v2/", testUser, testPassword, nil)
	if status != http.StatusOK {
		t.Errorf("GET /v2/ with the password: %d, want 200", status)
	}

	PushRandomImage(t, r, "private:v1")
	ref := mustRef(t, r.Ref("private:v1"))
	_, err := remote.Head(ref, remote.WithAuth(authn.Anonymous))
	if !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("anonymous HEAD %q: %v, want 401", ref, err)
	}
	_, err = remote.Head(ref, remote.WithAuth(&authn.Basic{Username: testUser, Password: "wrong"}))
	if !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("HEAD %q with a wrong password: %v, want 401", ref, err)
	}
}

func isStatus(err error, code int) bool {
	terr, ok := err.(*transport.Error)
	return ok && terr.StatusCode == code
}

func testCounter(t *testing.T, r *Registry) {
	PushRandomImage(t, r, "counted:v1")
	r.ResetRequests()
	if n := r.Requests(""); n != 0 {
		t.Fatalf("after ResetRequests: %d requests", n)
	}
	call(t, r, http.MethodGet, "/v2/", testUser, testPassword, nil)
	if n := r.Requests("/v2/"); n != 1 {
		t.Errorf("Requests(%q) = %d after one GET, want 1", "/v2/", n)
	}
	if _, err := remote.Head(mustRef(t, r.Ref("counted:v1")), r.Options()...); err != nil {
		t.Fatal(err)
	}
	if n := r.Requests("/v2/counted/manifests/"); n != 1 {
		t.Errorf("Requests(%q) = %d after one HEAD, want 1; log: %q", "/v2/counted/manifests/", n, r.RequestLog())
	}
	if n := r.Requests("/v2/other/"); n != 0 {
		t.Errorf("Requests(%q) = %d, want 0", "/v2/other/", n)
	}
}

func testDelete(t *testing.T, r *Registry) {
	digest := PushRandomImage(t, r, "deleted:v1")
	tagged := PushRandomImage(t, r, "deleted:tagonly")

	status, body := call(t, r, http.MethodDelete, "/v2/deleted/manifests/tagonly", testUser, testPassword, nil)
	t.Logf("%s: DELETE manifest by tag: %d %s", r.Kind, status, strings.TrimSpace(body))
	if got := status == http.StatusAccepted; got != r.HasTagDelete {
		t.Errorf("DELETE by tag answered %d; HasTagDelete is %v", status, r.HasTagDelete)
	}
	status, _ = call(t, r, http.MethodGet, "/v2/deleted/manifests/tagonly", testUser, testPassword, map[string]string{"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
	if wantGone := r.HasTagDelete; (status == http.StatusNotFound) != wantGone {
		t.Errorf("GET the tag after DELETE by tag: %d (HasTagDelete %v)", status, r.HasTagDelete)
	}
	// Deleting a tag leaves the manifest it pointed at.
	status, _ = call(t, r, http.MethodHead, "/v2/deleted/manifests/"+tagged.String(), testUser, testPassword, map[string]string{"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
	if status != http.StatusOK {
		t.Errorf("HEAD by digest after the tag's DELETE: %d, want 200", status)
	}

	status, body = call(t, r, http.MethodDelete, "/v2/deleted/manifests/"+digest.String(), testUser, testPassword, nil)
	if status != http.StatusAccepted {
		t.Fatalf("DELETE manifest by digest: %d %s, want 202", status, body)
	}
	status, _ = call(t, r, http.MethodGet, "/v2/deleted/manifests/"+digest.String(), testUser, testPassword, map[string]string{"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
	if status != http.StatusNotFound {
		t.Errorf("GET by digest after DELETE: %d, want 404", status)
	}
	status, _ = call(t, r, http.MethodGet, "/v2/deleted/manifests/v1", testUser, testPassword, map[string]string{"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
	if status != http.StatusNotFound {
		t.Errorf("GET the deleted manifest's tag: %d, want 404", status)
	}
}

func testReferrers(t *testing.T, r *Registry) {
	digest := PushRandomImage(t, r, "referred:v1")
	status, body := call(t, r, http.MethodGet, "/v2/referred/referrers/"+digest.String(), testUser, testPassword, nil)
	t.Logf("%s: GET referrers: %d %s", r.Kind, status, strings.TrimSpace(body))
	if got := status == http.StatusOK; got != r.HasReferrers {
		t.Errorf("GET referrers answered %d; HasReferrers is %v", status, r.HasReferrers)
	}
}

func testIndex(t *testing.T, r *Registry) {
	digest := PushRandomIndex(t, r, "multi:v1", "linux/amd64", "linux/arm64/v8")
	idx, err := remote.Index(mustRef(t, r.Ref("multi:v1")), r.Options()...)
	if err != nil {
		t.Fatalf("pull index: %v", err)
	}
	if got, _ := idx.Digest(); got != digest {
		t.Errorf("index digest %s, PushRandomIndex returned %s", got, digest)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range m.Manifests {
		platforms = append(platforms, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatalf("child %s: %v", d.Digest, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Platform().String() != d.Platform.String() {
			t.Errorf("child config platform %s, descriptor %s", cfg.Platform(), d.Platform)
		}
	}
	if got := strings.Join(platforms, ","); got != "linux/amd64,linux/arm64/v8" {
		t.Errorf("platforms %q", got)
	}
}

func mustRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	parsed, err := name.ParseReference(ref)
	if err != nil {
		t.Fatalf("parse %q: %v", ref, err)
	}
	return parsed
}
