package scripts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command runs under action.Supervise with its own name, so a Go
// runtime crash ends it with exit 3 and "internal error", not exit 2.
func TestCommandsAreSupervised(t *testing.T) {
	for name := range Actions {
		b, err := os.ReadFile(filepath.Join(repoRoot, "cmd", name, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `action.Supervise("`+name+`", os.Args, os.Environ(),`) {
			t.Errorf("cmd/%s/main.go does not run under action.Supervise(%q, ...)", name, name)
		}
	}
}
