package action

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/manifest"
	"github.com/gitops-actions/gitops-actions/internal/supervisor"
)

// Supervise runs run, the whole of a command's main, in a child process
// of the same binary and returns the exit code to end with. The Go
// runtime ends a process with exit 2 on a fatal error (stack overflow,
// concurrent map writes) or on a panic in a goroutine, which reads as bad
// input; under supervision such a crash is exit 3 with "internal error",
// with secrets redacted and no Go trace, and the report says so. It is for
// cmd/*/main.go only: tests call Main in-process. args and environ are
// os.Args and os.Environ(). A command that also imports
// internal/supervisor/start is supervised from its init instead, before
// its dependencies initialise, and Supervise only runs the child's part
// (or writes the report of a crash the parent saw).
func Supervise(name string, args, environ []string, run func() int) int {
	for _, kv := range environ {
		// internal/supervisor/start saw the child crash: end the run as
		// the child would have.
		if msg, ok := strings.CutPrefix(kv, supervisor.CrashEnv+"="); ok {
			os.Unsetenv(supervisor.CrashEnv)
			return reportCrash(name, args, slices.DeleteFunc(slices.Clone(environ), func(e string) bool { return e == kv }), "internal error: "+msg)
		}
	}
	if len(args) == 2 && strings.HasPrefix(args[1], supervisor.RenderProcessFlag) {
		return run()
	}
	if slices.Contains(environ, supervisor.SupervisedEnv+"=1") {
		// Nothing this run starts is the supervised child.
		os.Unsetenv(supervisor.SupervisedEnv)
		// Fd 3 is the crash-output file the parent made.
		if f := os.NewFile(3, "crash-output"); f != nil {
			_ = debug.SetCrashOutput(f, debug.CrashOptions{})
			f.Close()
		}
		return run()
	}
	// Not started by internal/supervisor/start (a command that does not
	// import it): supervise from here, at the cost of a second full start.
	code, crash, ok := supervisor.Run(args, environ)
	if !ok {
		return run()
	}
	if crash != "" {
		return reportCrash(name, args, environ, "internal error: "+crash)
	}
	return code
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
