package action

import (
	"encoding/json"
	"fmt"
	"github.com/gitops-actions/gitops-actions/internal/supervisor"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// superviseMode, set in a test's child process, makes this test binary a
// supervised command that crashes the way the mode says.
const superviseMode = "ACTION_TEST_SUPERVISE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(superviseMode); mode != "" {
		os.Exit(Supervise("validate-config", os.Args, os.Environ(), func() int { return crash(mode) }))
	}
	os.Exit(m.Run())
}

const crashSecret = "hunter2-in-a-url"

func crash(mode string) int {
	switch mode {
	case "ok":
		fmt.Println("out line")
		fmt.Fprintln(os.Stderr, "err line")
		return 0
	case "many":
		for i := range 20000 {
			fmt.Fprintf(os.Stderr, "line %d\n", i)
		}
		return 0
	case "usage":
		fmt.Fprintln(os.Stderr, `error: input "path": missing`)
		return 2
	case "stack":
		debug.SetMaxStack(1 << 20)
		var f func(int) int
		f = func(n int) int { return f(n+1) + 1 }
		return f(0)
	case "map":
		m := map[int]int{}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					m[i%64+g] = i
				}
			})
		}
		wg.Wait()
	case "goroutine-panic":
		fmt.Fprintln(os.Stderr, "progress before the crash")
		go func() { panic("cannot reach https://ci:" + crashSecret + "@git.example/x.git") }()
		time.Sleep(10 * time.Second)
	}
	return 0
}

func runSupervised(t *testing.T, mode string) (code int, stdout, stderr string, rep map[string]any) {
	t.Helper()
	dir := t.TempDir()
	reportFile := filepath.Join(dir, "report.json")
	cmd := exec.Command(os.Args[0], "--report-file", reportFile, "--path", "https://ci:"+crashSecret+"@git.example/x.git")
	cmd.Env = append(os.Environ(), superviseMode+"="+mode, "GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary"))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(reportFile); err == nil {
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("report: %v\n%s", err, b)
		}
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String(), rep
}

func TestSuperviseCrashIsInternalError(t *testing.T) {
	for mode, what := range map[string]string{
		"stack":           "stack overflow",
		"map":             "concurrent map",
		"goroutine-panic": "panic: cannot reach https://***@git.example",
	} {
		t.Run(mode, func(t *testing.T) {
			code, _, stderr, rep := runSupervised(t, mode)
			if code != ExitExternal || !strings.Contains(stderr, "internal error: ") || !strings.Contains(stderr, what) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 3 and internal error naming %q", code, stderr, what)
			}
			for _, bad := range []string{"goroutine ", ".go:", crashSecret} {
				if strings.Contains(stderr, bad) {
					t.Errorf("stderr holds %q:\n%s", bad, stderr)
				}
			}
			if rep["status"] != "error" || !strings.Contains(fmt.Sprint(rep["error"]), "internal error") || strings.Contains(fmt.Sprint(rep), crashSecret) {
				t.Errorf("report = %v", rep)
			}
			if mode == "goroutine-panic" && !strings.Contains(stderr, "progress before the crash\n") {
				t.Errorf("output before the crash is lost:\n%s", stderr)
			}
		})
	}
}

func TestSuperviseOrdinaryExits(t *testing.T) {
	code, stdout, stderr, _ := runSupervised(t, "ok")
	if code != 0 || stdout != "out line\n" || stderr != "err line\n" {
		t.Errorf("ok: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	// Every line of the child's stderr comes through, the last ones too.
	code, _, stderr, _ = runSupervised(t, "many")
	if n := strings.Count(stderr, "\n"); code != 0 || n != 20000 || !strings.HasSuffix(stderr, "line 19999\n") {
		t.Errorf("many: exit %d, %d lines", code, n)
	}
	code, _, stderr, _ = runSupervised(t, "usage")
	if code != ExitUsage || stderr != "error: input \"path\": missing\n" {
		t.Errorf("usage: exit %d stderr %q", code, stderr)
	}
}

// A render process runs unsupervised, in this very process: its parent
// kills it at a limit, and a supervisor in between would leave the render
// running.
func TestSuperviseLeavesRenderProcessesAlone(t *testing.T) {
	pid := 0
	code := Supervise("validate-config", []string{"validate-config", supervisor.RenderProcessFlag + "1024"}, nil, func() int {
		pid = os.Getpid()
		return 7
	})
	if code != 7 || pid != os.Getpid() {
		t.Fatalf("exit %d in process %d, want 7 in this process %d", code, pid, os.Getpid())
	}
}
