package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"

	"github.com/gitops-actions/gitops-actions/internal/manifest"
	"github.com/gitops-actions/gitops-actions/internal/report"
	"github.com/gitops-actions/gitops-actions/internal/version"
)

// Env is what a Main receives from its caller; tests build one in-process.
type Env struct {
	Args   []string // including the program name
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
}

// Context is one run of an action: it collects outputs, findings and
// report data and talks to the runner.
type Context struct {
	Spec   *manifest.Action
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
	// GH is the runner protocol; commands go to Stdout.
	GH *githubactions.Action

	mu       sync.Mutex
	red      Redactor
	out, err *redactWriter
	outputs  map[string]string
	order    []string
	findings []report.Finding
	extra    map[string]any
	bad      []string
	summary  strings.Builder
	quiet    bool
}

// OnActions reports whether the run is under GitHub Actions.
func (c *Context) OnActions() bool { return c.Getenv("GITHUB_ACTIONS") == "true" }

// SetOutput records an output. An undeclared name is a bug: the run fails.
func (c *Context) SetOutput(name, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.Spec.HasOutput(name) {
		c.bad = append(c.bad, name)
		return
	}
	if _, ok := c.outputs[name]; !ok {
		c.order = append(c.order, name)
	}
	c.outputs[name] = value
}

// Outputs returns a copy of the outputs set so far.
func (c *Context) Outputs() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.outputs)
}

// AddFindings records findings for annotations, summary and report.
func (c *Context) AddFindings(fs ...report.Finding) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.findings = append(c.findings, fs...)
}

// Findings returns a copy of the findings so far.
func (c *Context) Findings() []report.Finding {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.findings)
}

// SetReportData adds an action-specific top-level key to the JSON report.
func (c *Context) SetReportData(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.extra[key] = v
}

// Mask hides a secret from the runner's logs from now on and from every
// stream, error, report and file this run writes. A multi-line secret
// (a key, a JSON credential) is masked line by line too.
func (c *Context) Mask(secret string) {
	// Off Actions nobody strips the command, so it would print the secret.
	if c.red.add(secret) && c.OnActions() {
		c.GH.AddMask(secret)
		for _, l := range secretLines(secret) {
			c.GH.AddMask(l)
		}
	}
}

// Redact replaces every masked secret in s. Stdout and Stderr redact
// what passes through them already.
func (c *Context) Redact(s string) string { return c.red.String(s) }

// RedactJSON redacts a JSON document (a SARIF file, say) before an action
// writes it anywhere but Stdout.
func (c *Context) RedactJSON(b []byte) []byte { return c.red.JSON(b) }

// newContext wraps the caller's streams so that nothing the action
// prints, itself or through a child process, carries a masked secret.
func newContext(spec *manifest.Action, env Env, getenv func(string) string) *Context {
	c := &Context{Spec: spec, Getenv: getenv, outputs: map[string]string{}, extra: map[string]any{}}
	c.out = &redactWriter{w: env.Stdout, r: &c.red}
	c.err = &redactWriter{w: env.Stderr, r: &c.red}
	c.Stdout, c.Stderr = c.out, c.err
	c.GH = githubactions.New(githubactions.WithGetenv(githubactions.GetenvFunc(getenv)), githubactions.WithWriter(commandWriter{c.out}))
	return c
}

// flush writes what the streams still hold.
func (c *Context) flush() {
	c.out.Flush()
	c.err.Flush()
}

// secretsOf is every secret the inputs carry: secret inputs and the
// credentials of any URL in any input, flag or env, or in a stray argument.
func secretsOf(spec *manifest.Action, args []string, getenv func(string) string) []string {
	var out []string
	for i, a := range args {
		out = append(out, URLCredentials(a)...)
		// Secret flags count even when the arguments do not parse.
		name, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if d := spec.Input(name); d != nil && d.Type == manifest.TypeSecret && strings.HasPrefix(a, "-") {
			if !hasValue && i+1 < len(args) {
				v = args[i+1]
			}
			out = append(out, strings.TrimSpace(v))
		}
	}
	in, err := ParseInputs(spec, args, getenv)
	if err != nil {
		return out
	}
	for _, d := range spec.Inputs {
		v, ok := in.raw(d.Name)
		if !ok {
			continue
		}
		if d.Type == manifest.TypeSecret {
			out = append(out, strings.TrimSpace(v))
		}
		out = append(out, URLCredentials(v)...)
	}
	return out
}

// AddSummary appends markdown to the step summary written at the end.
func (c *Context) AddSummary(markdown string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.summary.WriteString(markdown)
	if !strings.HasSuffix(markdown, "\n") {
		c.summary.WriteString("\n")
	}
}

// SetQuiet stops the runtime printing name=value outputs and findings on
// stdout, for actions that print their own report there (e.g. SARIF).
func (c *Context) SetQuiet(q bool) { c.quiet = q }

// Logf prints a progress line on stderr, secrets redacted.
func (c *Context) Logf(format string, args ...any) {
	fmt.Fprintln(c.Stderr, c.Redact(fmt.Sprintf(format, args...)))
}

// Warnf prints a warning: an annotation on Actions, a line on stderr elsewhere.
func (c *Context) Warnf(format string, args ...any) {
	msg := c.Redact(fmt.Sprintf(format, args...))
	if c.OnActions() {
		c.GH.Warningf("%s", msg)
		return
	}
	fmt.Fprintln(c.Stderr, "warning: "+msg)
}

// Run executes one action: it parses inputs with parse, runs exec, then
// writes outputs, annotations, summary and report, and returns the exit code.
func Run[C any](ctx context.Context, name string, env Env, parse func(*Inputs) (C, error), exec func(context.Context, *Context, C) error) int {
	m, err := manifest.Load()
	if err != nil {
		fmt.Fprintln(env.Stderr, err)
		return ExitExternal
	}
	spec := m.Action(name)
	if spec == nil {
		fmt.Fprintf(env.Stderr, "action %q is not in the manifest\n", name)
		return ExitExternal
	}
	return RunSpec(ctx, spec, env, parse, exec)
}

// RunSpec is Run for a spec given directly.
func RunSpec[C any](ctx context.Context, spec *manifest.Action, env Env, parse func(*Inputs) (C, error), exec func(context.Context, *Context, C) error) int {
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c := newContext(spec, env, getenv)
	var args []string
	if len(env.Args) > 0 {
		args = env.Args[1:]
	}
	// Mask every secret before anything can print it.
	for _, s := range secretsOf(spec, args, getenv) {
		c.Mask(s)
	}
	in, err := ParseInputs(spec, args, getenv)
	switch {
	case errors.Is(err, errHelp):
		WriteHelp(c.Stdout, spec)
		c.flush()
		return ExitOK
	case errors.Is(err, errVersion):
		fmt.Fprintf(c.Stdout, "%s %s\n", spec.Name, version.String())
		c.flush()
		return ExitOK
	case err != nil:
		fmt.Fprintln(c.Stderr, "error:", err)
		c.flush()
		return CodeOf(err)
	}
	reportFile := in.String("report-file")
	cfg, err := parse(in)
	err = errors.Join(err, in.Err())
	if err == nil {
		err = runExec(ctx, c, cfg, exec)
	}
	return c.finish(reportFile, err)
}

func runExec[C any](ctx context.Context, c *Context, cfg C, exec func(context.Context, *Context, C) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &ExitError{Code: ExitExternal, Err: fmt.Errorf("internal error: %v", r)}
		}
	}()
	return exec(ctx, c, cfg)
}

func (c *Context) finish(reportFile string, runErr error) int {
	if len(c.bad) > 0 {
		runErr = errors.Join(runErr, &ExitError{Code: ExitExternal, Err: fmt.Errorf("internal error: outputs %s are not declared in actions/actions.yaml", strings.Join(c.bad, ", "))})
	}
	code := CodeOf(runErr)
	var ee *ExitError
	if errors.As(runErr, &ee) && ee.Code == ExitUsage {
		code = ExitUsage
	}
	findings := c.Findings()
	report.Sort(findings)

	// GitHub shows 10 error annotations per step: repeats are shown once.
	shown := report.Group(findings)
	if c.OnActions() {
		for _, f := range shown {
			c.annotate(f)
		}
	}
	if c.Getenv("GITHUB_STEP_SUMMARY") != "" {
		md := c.summary.String()
		if md == "" || len(findings) > 0 {
			md += report.Markdown(c.Spec.Name, findings)
		}
		c.GH.AddStepSummary(c.Redact(md))
	}
	if c.Getenv("GITHUB_OUTPUT") != "" {
		for _, name := range c.order {
			c.GH.SetOutput(name, c.Redact(c.outputs[name]))
		}
	}
	if !c.quiet {
		if !c.OnActions() {
			for _, f := range shown {
				fmt.Fprintln(c.Stdout, f.String())
			}
		}
		for _, name := range c.order {
			fmt.Fprintf(c.Stdout, "%s=%s\n", name, c.outputs[name])
		}
	}
	status := report.StatusPassed
	switch code {
	case ExitOK:
	case ExitFindings:
		status = report.StatusFailed
	default:
		status = report.StatusError
	}
	var errText string
	if runErr != nil && !errors.Is(runErr, ErrFindings) {
		errText = runErr.Error()
		fmt.Fprintln(c.Stderr, "error:", errText)
	}
	if reportFile != "" {
		r := &report.Report{
			Action: c.Spec.Name, Version: version.String(), Status: status, Error: errText,
			Outputs: c.Outputs(), Findings: findings, Extra: c.extra,
		}
		if err := c.writeReport(r, reportFile); err != nil {
			fmt.Fprintln(c.Stderr, "error:", err)
			if code == ExitOK {
				code = ExitExternal
			}
		}
	}
	c.flush()
	return code
}

// writeReport redacts the encoded report as a whole, so every key,
// action-specific ones too, is covered.
func (c *Context) writeReport(r *report.Report, path string) error {
	b, err := r.Encode()
	if err != nil {
		return err
	}
	return report.WriteJSON(path, c.RedactJSON(b))
}

func (c *Context) annotate(f report.Finding) {
	fields := map[string]string{}
	if f.File != "" {
		fields["file"] = f.File
	}
	if f.Line > 0 {
		fields["line"] = fmt.Sprint(f.Line)
	}
	title := f.Rule
	if title == "" {
		title = f.Source
	}
	fields["title"] = title
	gh := c.GH.WithFieldsMap(fields)
	msg := f.Text()
	// Redacted before the command escapes it, which would hide a secret holding "%".
	msg = c.Redact(msg)
	switch f.Severity {
	case report.Error:
		gh.Errorf("%s", msg)
	case report.Warning:
		gh.Warningf("%s", msg)
	default:
		gh.Noticef("%s", msg)
	}
}

// WriteHelp lists every input with its description and default.
func WriteHelp(w io.Writer, spec *manifest.Action) {
	fmt.Fprintf(w, "Usage: %s [--input value]...\n\n%s\n\n", spec.Name, spec.Description)
	fmt.Fprintf(w, "Every input is a flag and, under GitHub Actions, the env var INPUT_<NAME>; a flag wins over the env var.\n\nInputs:\n")
	for _, in := range spec.Inputs {
		typ := in.Type
		def := in.Default
		if def == "" {
			def = `""`
		}
		req := ""
		if in.Required {
			req = ", required"
		}
		if in.Max > 0 {
			req += fmt.Sprintf(", at most %d", in.Max)
		}
		fmt.Fprintf(w, "  --%s (%s%s, default %s)\n      %s\n", in.Name, typ, req, def, in.Description)
	}
	fmt.Fprintf(w, "\nOutputs:\n")
	for _, o := range spec.Outputs {
		fmt.Fprintf(w, "  %s\n      %s\n", o.Name, o.Description)
	}
	fmt.Fprintf(w, "\nExit codes: 0 done, 1 blocking findings, 2 bad input, 3 external failure.\n  --help     show this help\n  --version  print the version\n")
}
