package validate

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/testenv"
)

func runIn(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	t.Chdir(dir)
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"validate-config"}, args...), func(string) string { return "" }, &out, &errb)
	return code, out.String() + errb.String()
}

func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cmServer serves a ConfigMap at every path and counts the requests.
func cmServer(t *testing.T, hits *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: remote}\ndata: {a: b}\n"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Remote bases and files are refused before anything is fetched: the
// server sees no request, and each entry is a finding at its line.
func TestRemoteRefusedByDefault(t *testing.T) {
	var hits atomic.Int32
	srv := cmServer(t, &hits)
	dir := writeRepo(t, map[string]string{
		"app/kustomization.yaml": "resources:\n  - " + srv.URL + "/cm.yaml\n  - github.com/example/config//base?ref=v1\n" +
			"configMapGenerator:\n  - name: gen\n    files:\n      - conf=" + srv.URL + "/conf.txt\n" +
			"components:\n  - https://bot:hunter2@git.example.com/org/repo.git//c\n",
	})
	code, out := runIn(t, dir, "--path", ".")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d request(s) reached the server", n)
	}
	for _, want := range []string{
		"app/kustomization.yaml:2: error GA-REMOTE-REFUSED: remote " + srv.URL + "/cm.yaml is not fetched",
		"app/kustomization.yaml:3: error GA-REMOTE-REFUSED: remote github.com/example/config//base?ref=v1 is not fetched",
		"app/kustomization.yaml:7: error GA-REMOTE-REFUSED: remote " + srv.URL + "/conf.txt is not fetched",
		"app/kustomization.yaml:9: error GA-REMOTE-REFUSED: remote https://***@git.example.com/org/repo.git//c is not fetched",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("password of a remote URL printed:\n%s", out)
	}
	if strings.Contains(out, "GA-RENDER-FAILED") {
		t.Errorf("refusal reported as a render failure:\n%s", out)
	}
}

// With allow-remote the remote file is fetched and checked.
func TestRemoteAllowed(t *testing.T) {
	var hits atomic.Int32
	srv := cmServer(t, &hits)
	dir := writeRepo(t, map[string]string{"kustomization.yaml": "resources:\n  - " + srv.URL + "/cm.yaml\n"})
	code, out := runIn(t, dir, "--path", ".", "--allow-remote")
	if code != 0 || hits.Load() != 1 || !strings.Contains(out, "resources=1") {
		t.Fatalf("exit %d, %d request(s):\n%s", code, hits.Load(), out)
	}
}

// A server that accepts and never answers ends the render at
// remote-timeout with a finding, not a hang.
func TestRemoteTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dir := writeRepo(t, map[string]string{"kustomization.yaml": "resources:\n  - http://" + ln.Addr().String() + "/cm.yaml\n"})
	start := time.Now()
	code, out := runIn(t, dir, "--path", ".", "--allow-remote", "--remote-timeout", "1s")
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %s", took)
	}
	if code != 1 || !strings.Contains(out, "kustomization.yaml:1: error GA-RENDER-FAILED: kustomize build failed: kustomize build did not finish within 1s") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// A git base is refused by default and, with allow-remote, cloned and
// rendered: the clone kustomize makes is readable, the rest of the
// machine is not.
func TestRemoteGitBase(t *testing.T) {
	g := testenv.StartGitServer(t)
	g.NewRepo(t, "base", map[string]string{
		"app/kustomization.yaml": "resources: [cm.yaml]\n",
		"app/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\ndata: {a: b}\n",
	})
	ref := g.RepoURL("base") + "//app?ref=main"
	dir := writeRepo(t, map[string]string{"kustomization.yaml": "resources:\n  - " + ref + "\n"})
	code, out := runIn(t, dir, "--path", ".")
	if code != 1 || !strings.Contains(out, "kustomization.yaml:2: error GA-REMOTE-REFUSED: remote "+ref+" is not fetched") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out = runIn(t, dir, "--path", ".", "--allow-remote")
	if code != 0 || !strings.Contains(out, "resources=1") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
