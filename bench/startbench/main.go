// Command startbench times the start of an action as a runner sees it:
// from the generated action.yml's first step to the action's first line of
// output, once through a verified release binary and once through the
// source build (cold and warm Go caches). bench/start.sh runs it.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

func main() {
	root := flag.String("root", ".", "the toolkit's checkout")
	action := flag.String("action", "scan", "the action to start")
	mode := flag.String("mode", "release", "release | release-raw | source-warm | source-cold")
	release := flag.String("release", "", "release mode: the release binary to serve")
	flag.Parse()
	args := flag.Args() // the action's arguments
	if err := run(*root, *action, *mode, *release, args); err != nil {
		fmt.Fprintln(os.Stderr, "startbench:", err)
		os.Exit(1)
	}
}

func run(root, action, mode, release string, args []string) error {
	raw, err := os.ReadFile(filepath.Join(root, "actions", action, "action.yml"))
	if err != nil {
		return err
	}
	fetch, build, err := manifest.StartSteps(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	temp, err := os.MkdirTemp("", "startbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(temp)
	env := append(os.Environ(),
		"RUNNER_TEMP="+temp, "GITHUB_OUTPUT="+filepath.Join(temp, "output"),
		"GITHUB_ACTION_PATH="+filepath.Join(root, "actions", action), "RUNNER_OS=Linux", "RUNNER_ARCH=X64")

	ref := "main" // not a release tag: the source build
	var served *atomic.Int64
	switch mode {
	case "release", "release-raw":
		if release == "" {
			return fmt.Errorf("release mode needs -release")
		}
		srv, n, err := serveRelease(release, action, mode == "release-raw")
		if err != nil {
			return err
		}
		defer srv.Close()
		served = n
		// The bench has no GitHub API to ask for the attestation; the
		// checksum and the unpacking are timed, gh's API call is not.
		env = append(env, "GITOPS_ACTIONS_RELEASE_URL="+srv.URL, "GITOPS_ACTIONS_SKIP_ATTESTATION=true")
		ref = "v9.9.9"
		if mode == "release-raw" {
			fetch = manifest.Step{ID: "fetch", Run: rawFetch, Env: map[string]string{"GITOPS_ACTIONS_NAME": action}}
		}
	case "source-cold":
		// A runner whose Go cache restore missed: empty build and module caches.
		env = append(env, "GOCACHE="+filepath.Join(temp, "gocache"), "GOMODCACHE="+filepath.Join(temp, "gomodcache"), "GOFLAGS=-modcacherw")
	case "source-warm":
		// A runner whose setup-go cache hit: this machine's Go caches as they are.
	default:
		return fmt.Errorf("unknown -mode %q", mode)
	}

	t0 := time.Now()
	if err := step(fetch, ref, env); err != nil {
		return err
	}
	out, _ := os.ReadFile(filepath.Join(temp, "output"))
	found := strings.Contains(string(out), "found=true")
	if found != strings.HasPrefix(mode, "release") {
		return fmt.Errorf("fetch step says %q in %s mode", strings.TrimSpace(string(out)), mode)
	}
	tFetch := time.Since(t0)
	if !found {
		if err := step(build, ref, env); err != nil {
			return err
		}
	}
	tBinary := time.Since(t0)
	first, at, err := firstLine(filepath.Join(temp, "gitops-actions", action), args)
	if err != nil {
		return err
	}
	total := at.Sub(t0)
	fmt.Printf("%s %s: binary ready %.2fs (fetch step %.2fs), first line of output %.2fs: %q\n",
		action, mode, tBinary.Seconds(), tFetch.Seconds(), total.Seconds(), first)
	if served != nil {
		fmt.Printf("bytes %s %d\n", mode, served.Load())
	}
	fmt.Printf("result %s %.3f\n", mode, total.Seconds())
	return nil
}

// serveRelease serves <action>_linux_amd64.tar.gz (packed as the release
// workflow packs it) or, raw, the binary itself, and checksums.txt under
// /v9.9.9/, as a GitHub release download URL would; it counts bytes served.
func serveRelease(bin, action string, raw bool) (*httptest.Server, *atomic.Int64, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, nil, err
	}
	asset := action + "_linux_amd64"
	if !raw {
		if b, err = targz(asset, b); err != nil {
			return nil, nil, err
		}
		asset += ".tar.gz"
	}
	sum := sha256.Sum256(b)
	n := &atomic.Int64{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v9.9.9/checksums.txt":
			k, _ := fmt.Fprintf(w, "%s  %s\n", hex.EncodeToString(sum[:]), asset)
			n.Add(int64(k))
		case "/v9.9.9/" + asset:
			k, _ := w.Write(b)
			n.Add(int64(k))
		default:
			http.NotFound(w, r)
		}
	})), n, nil
}

func targz(name string, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(body); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// rawFetch is the former fetch step, for comparison: the raw binary,
// checked against checksums.txt, no unpacking.
const rawFetch = `set -euo pipefail
name="$GITOPS_ACTIONS_NAME"; dest="$RUNNER_TEMP/gitops-actions"; mkdir -p "$dest"
asset="${name}_linux_amd64"; base="$GITOPS_ACTIONS_RELEASE_URL/v9.9.9"
curl -fsSL --retry 3 -o "$dest/checksums.txt" "$base/checksums.txt"
curl -fsSL --retry 3 -o "$dest/$asset" "$base/$asset"
want="$(awk -v f="$asset" '$2 == f { print $1 }' "$dest/checksums.txt")"
got="$(sha256sum "$dest/$asset" | cut -d' ' -f1)"
[ "$want" = "$got" ]
chmod +x "$dest/$asset"; mv "$dest/$asset" "$dest/$name"
echo "found=true" >> "$GITHUB_OUTPUT"
`

// step runs a step's script as the runner would.
func step(s manifest.Step, ref string, env []string) error {
	cmd := exec.Command("bash", "-e", "-c", s.Run)
	cmd.Env = append([]string(nil), env...)
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+strings.ReplaceAll(v, "${{ github.action_ref }}", ref))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("step %q: %w\n%s", s.ID, err, out)
	}
	return nil
}

// firstLine starts bin and returns its first line of output (stdout or
// stderr) and when it came, then lets the run finish.
func firstLine(bin string, args []string) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return "", time.Time{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	sc := bufio.NewScanner(pr)
	line := ""
	if sc.Scan() {
		line = sc.Text()
	}
	at := time.Now()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		return line, at, fmt.Errorf("running %s (first line %q): %w", bin, line, err)
	}
	if line == "" {
		return "", at, fmt.Errorf("%s printed nothing", bin)
	}
	return line, at, nil
}
