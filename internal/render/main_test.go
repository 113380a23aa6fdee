package render

import (
	"os"
	"testing"
)

// A Runner's processes are this test binary started again.
func TestMain(m *testing.M) {
	if code, ok := ServeProcess(os.Args, os.Stdin, os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
