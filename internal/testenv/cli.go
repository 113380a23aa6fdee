package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Pinned versions of the anchor CLIs that interop tests run beside our code.
const (
	CosignModule  = "github.com/sigstore/cosign/v3/cmd/cosign"
	CosignVersion = "v3.1.3"
	GrypeModule   = "github.com/anchore/grype/cmd/grype"
	GrypeVersion  = "v0.121.2"
)

var cliMu sync.Mutex

// CLI returns the path of the command built from module pkg at version
// (`go install pkg@version`, outside this module so its dependencies do not
// touch go.mod). Builds are kept in a per-user cache directory and shared by
// every test process; a file lock makes concurrent packages wait for one
// build. GOTESTCLI_DIR overrides the cache directory.
//
// When the build cannot run (no go command, no module proxy), the test fails
// under CI=true and is skipped elsewhere: an interop check that quietly did
// not run must not read as a pass.
func CLI(t testing.TB, pkg, version string) string {
	t.Helper()
	cliMu.Lock()
	defer cliMu.Unlock()

	dir, err := cliDir(path.Base(pkg), version)
	if err != nil {
		cliUnavailable(t, pkg, version, err)
	}
	bin := filepath.Join(dir, path.Base(pkg))
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin
	}

	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		cliUnavailable(t, pkg, version, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		cliUnavailable(t, pkg, version, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin // another process built it while we waited
	}

	goBin := lookBinary("go")
	if goBin == "" {
		cliUnavailable(t, pkg, version, fmt.Errorf("the go command is not in PATH"))
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		cliUnavailable(t, pkg, version, err)
	}
	defer os.RemoveAll(tmp)
	t.Logf("testenv: building %s@%s (once per cache directory %s)", pkg, version, dir)
	cmd := exec.Command(goBin, "install", "-trimpath", pkg+"@"+version)
	cmd.Dir = tmp
	cmd.Env = cliBuildEnv(tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		cliUnavailable(t, pkg, version, fmt.Errorf("%v\n%s", err, out))
	}
	if err := os.Rename(filepath.Join(tmp, path.Base(pkg)), bin); err != nil {
		cliUnavailable(t, pkg, version, err)
	}
	return bin
}

// cliDir is the cache directory of one CLI version.
func cliDir(name, version string) (string, error) {
	base := os.Getenv("GOTESTCLI_DIR")
	if base == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(cache, "gitops-actions-test-cli")
	}
	dir := filepath.Join(base, name+"-"+version)
	return dir, os.MkdirAll(dir, 0o755)
}

// cliBuildEnv builds the anchor CLI as its own module would be built: no
// GOFLAGS or GOEXPERIMENT of ours, static, installed into gobin.
func cliBuildEnv(gobin string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "GOFLAGS="), strings.HasPrefix(kv, "GOEXPERIMENT="),
			strings.HasPrefix(kv, "GOBIN="), strings.HasPrefix(kv, "GOWORK="),
			strings.HasPrefix(kv, "CGO_ENABLED="):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOBIN="+gobin, "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
}

func cliUnavailable(t testing.TB, pkg, version string, err error) {
	t.Helper()
	msg := fmt.Sprintf("testenv: cannot build %s@%s for the interop test: %v", pkg, version, err)
	if inCI() {
		t.Fatal(msg + " (CI=true, so a missing part is a failure, not a skip)")
	}
	t.Skip(msg)
}
