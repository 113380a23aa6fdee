package pipeline

import (
	"os"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/render"
)

// The validate-config stage renders in processes of this test binary.
func TestMain(m *testing.M) {
	if code, ok := render.ServeProcess(os.Args, os.Stdin, os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
