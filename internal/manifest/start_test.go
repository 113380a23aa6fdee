package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// startSteps reads the committed action.yml's fetch and build steps.
func startSteps(t *testing.T, action string) (fetch, build Step) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "actions", action, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	fetch, build, err = StartSteps(b)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return fetch, build
}

type runner struct {
	t                 *testing.T
	temp, output, act string
	releaseURL        string
}

// run executes a step's script as the runner would: bash, the step's env
// with expressions resolved, and the runner's own variables.
func (r *runner) run(s Step, actionRef string) (string, error) {
	cmd := exec.Command("bash", "-e", "-c", s.Run)
	env := append(os.Environ(),
		"RUNNER_TEMP="+r.temp, "GITHUB_OUTPUT="+r.output, "GITHUB_ACTION_PATH="+r.act,
		"RUNNER_OS=Linux", "RUNNER_ARCH=X64", "GITOPS_ACTIONS_RELEASE_URL="+r.releaseURL)
	for k, v := range s.Env {
		v = strings.ReplaceAll(v, "${{ github.action_ref }}", actionRef)
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (r *runner) found() string {
	b, _ := os.ReadFile(r.output)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "found="); ok {
			return v
		}
	}
	return ""
}

func TestActionStart(t *testing.T) {
	const action = "prune-images"
	fetch, build := startSteps(t, action)
	fake := []byte("#!/bin/sh\necho release binary \"$@\"\n")
	sum := sha256.Sum256(fake)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		requests.Add(1)
		switch req.URL.Path {
		case "/v1.2.3/checksums.txt":
			fmt.Fprintf(w, "%s  %s_linux_amd64\n%s  scan_linux_amd64\n", hex.EncodeToString(sum[:]), action, strings.Repeat("0", 64))
		case "/v6.6.6/checksums.txt":
			fmt.Fprintf(w, "%s  %s_linux_amd64\n", strings.Repeat("ab", 32), action)
		case "/v1.2.3/" + action + "_linux_amd64", "/v6.6.6/" + action + "_linux_amd64":
			w.Write(fake)
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	newRunner := func(t *testing.T) *runner {
		dir := t.TempDir()
		return &runner{t: t, temp: dir, output: filepath.Join(dir, "output"), act: filepath.Join(repo, "actions", action), releaseURL: srv.URL}
	}
	bin := func(r *runner) string { return filepath.Join(r.temp, "gitops-actions", action) }

	t.Run("good checksum runs the release binary", func(t *testing.T) {
		r := newRunner(t)
		out, err := r.run(fetch, "v1.2.3")
		if err != nil || r.found() != "true" || !strings.Contains(out, "verified") {
			t.Fatalf("fetch: %v found=%q\n%s", err, r.found(), out)
		}
		got, err := exec.Command(bin(r), "--version").CombinedOutput()
		if err != nil || string(got) != "release binary --version\n" {
			t.Errorf("running the fetched binary: %v %q", err, got)
		}
	})
	t.Run("bad checksum fails hard", func(t *testing.T) {
		r := newRunner(t)
		out, err := r.run(fetch, "v6.6.6")
		if err == nil || !strings.Contains(out, "checksum mismatch") || !strings.Contains(out, "refusing to run it") {
			t.Fatalf("fetch with a bad checksum: %v\n%s", err, out)
		}
		if r.found() != "" {
			t.Errorf("a mismatch must not fall back to a source build, found=%q", r.found())
		}
		if _, err := os.Stat(bin(r)); err == nil {
			t.Error("the unverified binary was left in place")
		}
	})
	t.Run("missing asset builds from source", func(t *testing.T) {
		r := newRunner(t)
		out, err := r.run(fetch, "v9.9.9")
		if err != nil || r.found() != "false" || !strings.Contains(out, "building "+action+" from source") {
			t.Fatalf("fetch of a missing release: %v found=%q\n%s", err, r.found(), out)
		}
		if out, err := r.run(build, "v9.9.9"); err != nil {
			t.Fatalf("source build: %v\n%s", err, out)
		}
		got, err := exec.Command(bin(r), "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(got), action+" ") {
			t.Errorf("the source-built binary: %v %q", err, got)
		}
	})
	t.Run("branch ref builds from source without a download", func(t *testing.T) {
		r := newRunner(t)
		before := requests.Load()
		out, err := r.run(fetch, "main")
		if err != nil || r.found() != "false" || requests.Load() != before {
			t.Fatalf("fetch for a branch: %v found=%q requests=%d\n%s", err, r.found(), requests.Load()-before, out)
		}
	})
}
