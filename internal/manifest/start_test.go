package manifest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	// path replaces PATH when set (a fake gh, or none); extra is more env.
	path  string
	extra []string
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
		v = strings.ReplaceAll(v, "${{ github.token }}", "runner-token")
		env = append(env, k+"="+v)
	}
	if r.path != "" {
		env = append(env, "PATH="+r.path)
	}
	env = append(env, r.extra...)
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
	fake := targz(t, action+"_linux_amd64", []byte("#!/bin/sh\necho release binary \"$@\"\n"))
	sum := sha256.Sum256(fake)
	damaged := append(bytes.Repeat([]byte("not a tar.gz "), 100000), fake[:100]...)
	damagedSum := sha256.Sum256(damaged)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		requests.Add(1)
		switch req.URL.Path {
		case "/v1.2.3/checksums.txt":
			fmt.Fprintf(w, "%s  %s_linux_amd64.tar.gz\n%s  scan_linux_amd64.tar.gz\n", hex.EncodeToString(sum[:]), action, strings.Repeat("0", 64))
		case "/v6.6.6/checksums.txt":
			fmt.Fprintf(w, "%s  %s_linux_amd64.tar.gz\n", strings.Repeat("ab", 32), action)
		case "/v7.7.7/checksums.txt":
			// The right checksum of an archive that is not one.
			fmt.Fprintf(w, "%s  %s_linux_amd64.tar.gz\n", hex.EncodeToString(damagedSum[:]), action)
		case "/v1.2.3/" + action + "_linux_amd64.tar.gz", "/v6.6.6/" + action + "_linux_amd64.tar.gz":
			w.Write(fake)
		case "/v7.7.7/" + action + "_linux_amd64.tar.gz":
			w.Write(damaged)
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	// Every run has a fake gh first on PATH: it logs its arguments and
	// verifies only when GH_VERDICT=ok.
	newRunner := func(t *testing.T) *runner {
		dir := t.TempDir()
		r := &runner{t: t, temp: dir, output: filepath.Join(dir, "output"), act: filepath.Join(repo, "actions", action), releaseURL: srv.URL}
		r.path = fakeGh(t, filepath.Join(dir, "gh.log")) + string(os.PathListSeparator) + os.Getenv("PATH")
		r.extra = []string{"GH_VERDICT=ok"}
		return r
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
		log, _ := os.ReadFile(filepath.Join(r.temp, "gh.log"))
		// gh checks the archive where it was downloaded: a private directory under the destination.
		want := regexp.MustCompile("^attestation verify " + regexp.QuoteMeta(filepath.Join(r.temp, "gitops-actions")) + `/\.fetch\.[A-Za-z0-9]+/` +
			regexp.QuoteMeta(action+"_linux_amd64.tar.gz"+
				" --repo gitops-actions/gitops-actions --signer-workflow gitops-actions/gitops-actions/.github/workflows/release.yml --source-ref refs/tags/v1.2.3 token=runner-token\n") + "$")
		if !want.Match(log) {
			t.Errorf("gh was called as\n%q\nwant %s", log, want)
		}
		onlyBinary(t, r)
	})
	refused := func(t *testing.T, r *runner, out string, err error, msg string) {
		t.Helper()
		if err == nil || !strings.Contains(out, msg) || !strings.Contains(out, "refusing to run it") {
			t.Fatalf("fetch: %v, want a refusal with %q\n%s", err, msg, out)
		}
		if r.found() != "" {
			t.Errorf("a refusal must not fall back to a source build, found=%q", r.found())
		}
		if _, err := os.Stat(bin(r)); err == nil {
			t.Error("the unverified binary was left in place")
		}
		onlyBinary(t, r)
	}
	t.Run("failed attestation fails hard", func(t *testing.T) {
		r := newRunner(t)
		r.extra = []string{"GH_VERDICT=bad"}
		out, err := r.run(fetch, "v1.2.3")
		refused(t, r, out, err, "has no valid attestation")
		if !strings.Contains(out, "no matching attestations") {
			t.Errorf("gh's own message is not shown:\n%s", out)
		}
	})
	t.Run("missing gh fails hard", func(t *testing.T) {
		r := newRunner(t)
		r.path = toolsWithoutGh(t)
		out, err := r.run(fetch, "v1.2.3")
		refused(t, r, out, err, "gh is not on PATH")
	})
	t.Run("opt-out without gh checks the checksum only", func(t *testing.T) {
		r := newRunner(t)
		r.path = toolsWithoutGh(t)
		r.extra = []string{"GITOPS_ACTIONS_SKIP_ATTESTATION=true"}
		out, err := r.run(fetch, "v1.2.3")
		if err != nil || r.found() != "true" || !strings.Contains(out, "attestation not checked") {
			t.Fatalf("fetch with the opt-out: %v found=%q\n%s", err, r.found(), out)
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
	t.Run("archive that does not unpack fails hard", func(t *testing.T) {
		r := newRunner(t)
		out, err := r.run(fetch, "v7.7.7")
		refused(t, r, out, err, "does not unpack to "+action+"_linux_amd64")
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

// onlyBinary: whatever the outcome, the fetch leaves nothing in the
// destination but a binary it verified.
func onlyBinary(t *testing.T, r *runner) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(r.temp, "gitops-actions"))
	for _, e := range entries {
		if e.Name() != filepath.Base(r.act) {
			t.Errorf("the fetch left %s in the destination", e.Name())
		}
	}
}

// targz is a release archive holding one executable file.
func targz(t *testing.T, name string, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(body)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// fakeGh writes a gh that logs its arguments and token to log, passes
// `gh attestation verify` when GH_VERDICT=ok and fails it as gh does
// otherwise; it returns its directory.
func fakeGh(t *testing.T, log string) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"$* token=$GH_TOKEN\" >> " + log + "\n" +
		"[ \"$GH_VERDICT\" = ok ] && exit 0\necho 'Error: verifying with issuer \"sigstore.dev\": no matching attestations found' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "gh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// toolsWithoutGh is a PATH holding the tools the start script uses, but no gh.
func toolsWithoutGh(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"bash", "sh", "curl", "awk", "sha256sum", "cut", "tar", "gzip", "rm", "chmod", "mv", "mkdir", "mktemp", "mkfifo", "tee", "cat", "git", "grep", "head"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("the start script needs %s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
