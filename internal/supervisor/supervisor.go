package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// SupervisedEnv marks the child process Run starts; it finds its
	// crash-output file on fd 3.
	SupervisedEnv = "GITOPS_ACTIONS_SUPERVISED"
	// CrashEnv carries what a crashed child died of to one more start of
	// the binary, which writes the error report with the whole runtime.
	CrashEnv = "GITOPS_ACTIONS_CRASH"
	// RenderProcessFlag is the argument internal/render starts a render
	// process with (its processFlag; a test there keeps the two the same):
	// its parent kills it at a limit and reads its exit, so a supervisor
	// in between would leave a runaway render behind.
	RenderProcessFlag = "--render-process="
)

// Supervised reports whether this process is left to run as it is: it is
// the supervised child, the crash reporter, or a render process.
func Supervised(args, environ []string) bool {
	if len(args) == 2 && strings.HasPrefix(args[1], RenderProcessFlag) {
		return true
	}
	for _, kv := range environ {
		if kv == SupervisedEnv+"=1" || strings.HasPrefix(kv, CrashEnv+"=") {
			return true
		}
	}
	return false
}

// Run starts this binary again with args and environ as the supervised
// child and waits for it. It returns the child's exit code, or crash, the
// line saying what the runtime died of. ok is false when no child could be
// started (then the caller runs the work itself).
func Run(args, environ []string) (code int, crash string, ok bool) {
	exe, err := os.Executable()
	if err != nil || runtime.GOOS == "windows" {
		return 0, "", false // no ExtraFiles on Windows; unsupervised is still a run
	}
	crashFile, err := os.CreateTemp("", "gitops-actions-crash-*")
	if err != nil {
		return 0, "", false
	}
	defer os.Remove(crashFile.Name())
	defer crashFile.Close()

	cmd := exec.Command(exe, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = append(environ, SupervisedEnv+"=1")
	cmd.Stdin, cmd.Stdout = os.Stdin, os.Stdout
	cmd.ExtraFiles = []*os.File{crashFile}
	// An own pipe rather than StderrPipe, whose Wait may close it before
	// the last lines are read.
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, "", false
	}
	defer pr.Close()
	cmd.Stderr = pw
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return 0, "", false
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	held := forwardStderr(os.Stderr, pr)
	waitErr := cmd.Wait()
	// A process the child left behind may hold stderr open: do not wait on it long.
	trace := held(2 * time.Second)
	crashText, _ := os.ReadFile(crashFile.Name())

	code = cmd.ProcessState.ExitCode()
	switch {
	// The runtime writes the line that says what happened to stderr only,
	// and the traces to both; a crash before SetCrashOutput (in package
	// init) leaves only stderr. 2 is the runtime's exit code.
	case len(crashText) > 0, code == 2 && len(trace) > 0:
		return code, crashLine(string(trace) + "\n" + string(crashText)), true
	case code < 0:
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			return code, "ended by " + ee.ProcessState.String(), true
		}
		return code, waitErr.Error(), true
	}
	os.Stderr.Write(trace) // not a crash after all: ordinary output
	return code, "", true
}

// crashLine is the line of a Go crash report that says what happened,
// without the goroutine traces.
func crashLine(text string) string {
	lines := strings.Split(text, "\n")
	for _, prefix := range []string{"fatal error: ", "panic: "} {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return strings.TrimSpace(l)
			}
		}
	}
	return "the Go runtime crashed"
}

// crashStart tells the first line the Go runtime prints when it crashes.
func crashStart(line []byte) bool {
	for _, p := range []string{"panic: ", "fatal error: ", "runtime: ", "SIGSEGV", "SIGBUS", "unexpected signal", "unexpected fault address"} {
		if bytes.HasPrefix(line, []byte(p)) {
			return true
		}
	}
	return false
}

// forwardStderr copies the child's stderr line by line as it comes, until
// a line that starts a Go crash report: from there it holds the rest,
// which the returned function gives back once the child is gone.
func forwardStderr(w io.Writer, r io.Reader) func(time.Duration) []byte {
	var (
		mu   sync.Mutex
		held bytes.Buffer
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		br := bufio.NewReader(r)
		holding := false
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				if !holding && crashStart(line) {
					holding = true
				}
				mu.Lock()
				if holding {
					held.Write(line)
				} else {
					w.Write(line)
				}
				mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	return func(wait time.Duration) []byte {
		select {
		case <-done:
		case <-time.After(wait):
		}
		mu.Lock()
		defer mu.Unlock()
		return bytes.Clone(held.Bytes())
	}
}

// Report starts this binary once more with CrashEnv set to what the child
// died of, so that a process with its whole runtime writes the error, the
// report and the summary (and redacts them), and returns its exit code.
func Report(args, environ []string, crash string) int {
	exe, err := os.Executable()
	if err != nil {
		os.Stderr.WriteString("error: internal error: " + crash + "\n")
		return 3
	}
	cmd := exec.Command(exe, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = append(environ, CrashEnv+"="+crash)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		os.Stderr.WriteString("error: internal error: " + crash + "\n")
		return 3
	}
	return cmd.ProcessState.ExitCode()
}
