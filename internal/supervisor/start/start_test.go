package start_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A command wired like cmd/*/main.go: a runtime crash of its work is exit
// 3 with "internal error" and an error report, through the parent that
// this package's init starts, and ordinary exits pass through.
func TestCommandCrashIsInternalError(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "crasher")
	build := exec.Command("go", "build", "-o", bin, "./testdata/crasher")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the crasher: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		crash string
		code  int
		want  string
	}{
		{"stack", 3, "internal error: fatal error: stack overflow"},
		{"goroutine", 3, "internal error: panic: token *** leaked"},
		{"exit", 1, ""},
		{"", 0, ""},
	} {
		t.Run(tc.crash, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "report.json")
			cmd := exec.Command(bin, "--report-file", report, "--registry-password", "s3cr3t-in-panic")
			cmd.Env = []string{"CRASHER=" + tc.crash}
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GITOPS_ACTIONS_") && !strings.HasPrefix(kv, "CRASHER=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			_ = cmd.Run()
			if got := cmd.ProcessState.ExitCode(); got != tc.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", got, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), "working") {
				t.Errorf("the work's own stderr did not come through:\n%s", stderr.String())
			}
			if strings.Contains(stderr.String(), "goroutine ") || strings.Contains(stderr.String()+stdout.String(), "s3cr3t-in-panic") {
				t.Errorf("a trace or the secret reached the output:\n%s%s", stdout.String(), stderr.String())
			}
			if tc.want == "" {
				return
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatalf("no report: %v", err)
			}
			var r struct{ Status, Error string }
			if err := json.Unmarshal(b, &r); err != nil || r.Status != "error" || !strings.Contains(r.Error, tc.want) {
				t.Errorf("report status %q error %q, want error saying %q (%v)", r.Status, r.Error, tc.want, err)
			}
			if strings.Contains(string(b), "s3cr3t-in-panic") {
				t.Errorf("the secret is in the report:\n%s", b)
			}
		})
	}
}
