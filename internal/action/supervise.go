package action

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

// supervisedEnv marks the child process Supervise starts.
const supervisedEnv = "GITOPS_ACTIONS_SUPERVISED"

// renderProcessFlag is the argument internal/render starts a render
// process with (its processFlag; a test there keeps the two the same).
const renderProcessFlag = "--render-process="

// Supervise runs run, the whole of a command's main, in a child process
// of the same binary and returns the exit code to end with. The Go
// runtime ends a process with exit 2 on a fatal error (stack overflow,
// concurrent map writes) or on a panic in a goroutine, which reads as bad
// input; under supervision such a crash is exit 3 with "internal error",
// with secrets redacted and no Go trace, and the report says so. It is for
// cmd/*/main.go only: tests call Main in-process. args and environ are
// os.Args and os.Environ().
func Supervise(name string, args, environ []string, run func() int) int {
	// A render process (validate-config's bounded renderer) is this binary
	// serving its own parent, which kills it at a limit and reads its
	// exit; a supervisor in between would outlive neither nor pass on the
	// kill, leaving a runaway render behind.
	if len(args) == 2 && strings.HasPrefix(args[1], renderProcessFlag) {
		return run()
	}
	if slices.Contains(environ, supervisedEnv+"=1") {
		// Nothing this run starts is the supervised child.
		os.Unsetenv(supervisedEnv)
		// Fd 3 is the crash-output file the parent made.
		if f := os.NewFile(3, "crash-output"); f != nil {
			_ = debug.SetCrashOutput(f, debug.CrashOptions{})
			f.Close()
		}
		return run()
	}
	exe, err := os.Executable()
	if err != nil || runtime.GOOS == "windows" {
		return run() // no ExtraFiles on Windows; unsupervised is still a run
	}
	crash, err := os.CreateTemp("", "gitops-actions-crash-*")
	if err != nil {
		return run()
	}
	defer os.Remove(crash.Name())
	defer crash.Close()

	cmd := exec.Command(exe, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = append(environ, supervisedEnv+"=1")
	cmd.Stdin, cmd.Stdout = os.Stdin, os.Stdout
	cmd.ExtraFiles = []*os.File{crash}
	// An own pipe rather than StderrPipe, whose Wait may close it before
	// the last lines are read.
	pr, pw, err := os.Pipe()
	if err != nil {
		return run()
	}
	defer pr.Close()
	cmd.Stderr = pw
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return run()
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
	crashText, _ := os.ReadFile(crash.Name())

	code := cmd.ProcessState.ExitCode()
	var msg string
	switch {
	// The runtime writes the line that says what happened to stderr only,
	// and the traces to both; a crash before SetCrashOutput (in package
	// init) leaves only stderr.
	case len(crashText) > 0, code == ExitUsage && len(trace) > 0:
		msg = crashLine(string(trace) + "\n" + string(crashText))
	case code < 0:
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			msg = fmt.Sprintf("%s ended by %v", name, ee.ProcessState)
		} else {
			msg = fmt.Sprintf("%s: %v", name, waitErr)
		}
	default:
		os.Stderr.Write(trace) // not a crash after all: ordinary output
		return code
	}
	return reportCrash(name, args, environ, "internal error: "+msg)
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

// reportCrash ends a crashed run as the child would have: the error on
// stderr and in the report, secrets redacted, exit 3.
func reportCrash(name string, args, environ []string, msg string) int {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	getenv := func(k string) string { return env[k] }
	m, err := manifest.Load()
	spec := (*manifest.Action)(nil)
	if err == nil {
		spec = m.Action(name)
	}
	if spec == nil {
		fmt.Fprintln(os.Stderr, "error:", msg)
		return ExitExternal
	}
	c := newContext(spec, Env{Args: args, Getenv: getenv, Stdout: os.Stdout, Stderr: os.Stderr}, getenv)
	for _, s := range secretsOf(spec, args[1:], getenv) {
		c.red.add(s) // the child has masked them for the runner already
	}
	reportFile := ""
	if in, err := ParseInputs(spec, args[1:], getenv); err == nil {
		reportFile = in.String("report-file")
	}
	c.AddSummary("**" + spec.Name + "**: " + msg)
	return c.finish(reportFile, &ExitError{Code: ExitExternal, Err: errors.New(msg)})
}
