package diffconfig

import (
	"os"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/render"
)

// The render processes of the Mains these tests run are this test binary
// started again.
func TestMain(m *testing.M) {
	if code, ok := render.ServeProcess(os.Args, os.Stdin, os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
