package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// Every command cross-compiles for the release platforms (build only), as
// the release workflow builds them. The host platform's build leaves out
// -trimpath, so it links the packages the other tests compiled instead of
// compiling the whole graph a third time; the flag changes no build result.
func TestCrossCompile(t *testing.T) {
	cmds, _ := filepath.Glob(filepath.Join(repoRoot, "cmd", "*"))
	for _, platform := range []string{"linux/amd64", "linux/arm64", "darwin/arm64"} {
		t.Run(strings.ReplaceAll(platform, "/", "_"), func(t *testing.T) {
			goos, goarch, _ := strings.Cut(platform, "/")
			out := t.TempDir()
			args := []string{"build", "-trimpath", "-o", out + "/", "./cmd/..."}
			if platform == runtime.GOOS+"/"+runtime.GOARCH {
				args = slices.Delete(args, 1, 2)
			}
			cmd := exec.Command("go", args...)
			cmd.Dir = repoRoot
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOEXPERIMENT=jsonv2")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build for %s: %v\n%s", platform, err, b)
			}
			for _, c := range cmds {
				if _, err := os.Stat(filepath.Join(out, filepath.Base(c))); err != nil {
					t.Errorf("%s: no binary for %s", platform, filepath.Base(c))
				}
			}
		})
	}
}
