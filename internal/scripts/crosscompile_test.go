package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every command cross-compiles for the release platforms (build only), as
// the release workflow builds them.
func TestCrossCompile(t *testing.T) {
	cmds, _ := filepath.Glob(filepath.Join(repoRoot, "cmd", "*"))
	for _, platform := range []string{"linux/amd64", "linux/arm64", "darwin/arm64"} {
		t.Run(strings.ReplaceAll(platform, "/", "_"), func(t *testing.T) {
			goos, goarch, _ := strings.Cut(platform, "/")
			out := t.TempDir()
			cmd := exec.Command("go", "build", "-trimpath", "-o", out+"/", "./cmd/...")
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
