package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// inCI reports whether the test runs in CI, where nothing may be skipped: a
// machine that lacks a tool must turn the run red, not quietly thinner.
func inCI() bool {
	return os.Getenv("CI") == "true"
}

// lookBinary returns the path of program name, or "" when it is not installed.
func lookBinary(name string) string {
	path, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return path
}

// requireBinary returns the path of program name. When it is missing the test
// fails under CI and is skipped elsewhere, with a message naming the Debian
// package that ships it.
func requireBinary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	if path := lookBinary(name); path != "" {
		return path
	}
	msg := fmt.Sprintf("testenv: program %q not found in PATH; install the Debian package %q (apt-get install -y %s)", name, debianPackage, debianPackage)
	if inCI() {
		t.Fatal(msg + " (CI=true, so a missing part is a failure, not a skip)")
	}
	t.Skip(msg)
	return ""
}
