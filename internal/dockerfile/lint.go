package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/gitops-actions/gitops-actions/internal/report"
)

// Rule IDs.
const (
	RuleFinalNotMinimal      = "GA-DF-FINAL-NOT-MINIMAL"
	RuleSingleStageToolchain = "GA-DF-SINGLE-STAGE-TOOLCHAIN"
	RuleBaseUnpinned         = "GA-DF-BASE-UNPINNED"
	RuleShellFormNoShell     = "GA-DF-SHELL-FORM-NO-SHELL"
	RuleRailsServerPID       = "GA-DF-RAILS-SERVER-PID"
	RuleRootUser             = "GA-DF-ROOT-USER"
	RuleAddRemote            = "GA-DF-ADD-REMOTE"
)

// Rules lists every rule with its default severity and what it checks, for
// SARIF rule tables and documentation.
var Rules = []struct {
	ID       string
	Severity report.Severity
	Help     string
}{
	{RuleBaseUnpinned, report.Error, "base image without tag or :latest (error); tag without digest (notice)"},
	{RuleFinalNotMinimal, report.Warning, "final stage is not distroless, scratch or chainguard static"},
	{RuleSingleStageToolchain, report.Warning, "compilers or a toolchain image left in the final stage"},
	{RuleShellFormNoShell, report.Error, "shell-form ENTRYPOINT/CMD/HEALTHCHECK in a final stage that has no shell"},
	{RuleRailsServerPID, report.Warning, "Rails server started without an entrypoint that removes tmp/pids/server.pid"},
	{RuleRootUser, report.Warning, "final stage runs as root"},
	{RuleAddRemote, report.Warning, "ADD of a URL without --checksum=sha256:…, or of a Git repository not pinned to a full commit"},
}

// Options tune a lint run.
type Options struct {
	// Target is the stage that is built; empty means the last one.
	Target string
	// BuildArgs override ARG defaults used in FROM lines.
	BuildArgs map[string]string
	// Context is the build context, read to find entrypoint scripts; nil
	// means none is available.
	Context fs.FS
}

// ErrNoTarget is returned when Options.Target names no stage.
var ErrNoTarget = errors.New("no such stage")

// LintFile lints contextDir/dockerfile with the context directory as
// Options.Context; findings name the Dockerfile by the path given.
// Both are read through an os.Root, so a symbolic link that leaves the
// context is never followed.
func LintFile(contextDir, dockerfile string, opt Options) ([]report.Finding, error) {
	root, err := os.OpenRoot(contextDir)
	if err != nil {
		return nil, fmt.Errorf("opening context %q: %w", contextDir, err)
	}
	defer root.Close()
	var src []byte
	if filepath.IsAbs(dockerfile) {
		src, err = os.ReadFile(dockerfile)
	} else {
		src, err = root.ReadFile(dockerfile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Dockerfile %q: %w", dockerfile, err)
	}
	if opt.Context == nil {
		opt.Context = root.FS()
	}
	return Lint(filepath.ToSlash(dockerfile), src, opt)
}

// parsed is a Dockerfile split into stages, with the ARG values that FROM
// lines expand with.
type parsed struct {
	stages []*stage
	args   envMap
	lex    *shell.Lex
}

// parse splits src into stages; file is the name used in errors.
func parse(file string, src []byte, opt Options) (*parsed, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("parsing Dockerfile %q: %w", file, err)
	}
	d := &parsed{args: envMap{}, lex: shell.NewLex(res.EscapeToken)}
	for _, n := range res.AST.Children {
		switch strings.ToLower(n.Value) {
		case "arg":
			if len(d.stages) == 0 {
				for a := n.Next; a != nil; a = a.Next {
					k, v, _ := strings.Cut(a.Value, "=")
					if o, ok := opt.BuildArgs[k]; ok {
						v = o
					}
					d.args[k] = v
				}
			} else {
				d.stages[len(d.stages)-1].nodes = append(d.stages[len(d.stages)-1].nodes, n)
			}
		case "from":
			if n.Next == nil {
				return nil, fmt.Errorf("%s:%d: FROM without an image", file, n.StartLine)
			}
			st := &stage{from: n}
			st.image, st.resolved = d.expand(n.Next.Value)
			if as := n.Next.Next; as != nil && strings.EqualFold(as.Value, "as") && as.Next != nil {
				st.name = as.Next.Value
			}
			st.parent = d.stage(st.image, false)
			d.stages = append(d.stages, st)
		default:
			if len(d.stages) > 0 {
				d.stages[len(d.stages)-1].nodes = append(d.stages[len(d.stages)-1].nodes, n)
			}
		}
	}
	if len(d.stages) == 0 {
		return nil, fmt.Errorf("no FROM in Dockerfile %q", file)
	}
	return d, nil
}

// expand substitutes global ARGs; resolved is false when a variable stays.
func (d *parsed) expand(word string) (v string, resolved bool) {
	v, unmatched, err := d.lex.ProcessWord(word, d.args)
	if err != nil {
		return word, true
	}
	return v, len(unmatched) == 0 && !strings.Contains(v, "$")
}

// stage is the earlier stage ref names; --from may also give its index.
func (d *parsed) stage(ref string, byIndex bool) *stage {
	for i, prev := range d.stages {
		if (prev.name != "" && strings.EqualFold(prev.name, ref)) || (byIndex && ref == strconv.Itoa(i)) {
			return prev
		}
	}
	return nil
}

// Images lists the registry images a build pulls: FROM bases, COPY --from
// and RUN --mount from= sources that are not stages. Images with a
// variable left unexpanded are left out.
func Images(file string, src []byte, opt Options) ([]string, error) {
	d, err := parse(file, src, opt)
	if err != nil {
		return nil, err
	}
	var out []string
	add := func(img string, resolved bool) {
		if resolved && img != "" && !strings.EqualFold(img, "scratch") && d.stage(img, true) == nil && !slices.Contains(out, img) {
			out = append(out, img)
		}
	}
	for _, st := range d.stages {
		if st.parent == nil {
			add(st.image, st.resolved)
		}
		for _, n := range st.nodes {
			for _, f := range n.Flags {
				switch {
				case strings.HasPrefix(f, "--from="):
					add(d.expand(strings.TrimPrefix(f, "--from=")))
				case strings.HasPrefix(f, "--mount="):
					for _, kv := range strings.Split(strings.TrimPrefix(f, "--mount="), ",") {
						if k, v, _ := strings.Cut(kv, "="); k == "from" {
							add(d.expand(v))
						}
					}
				}
			}
		}
	}
	return out, nil
}

type stage struct {
	name     string
	image    string // expanded FROM reference, or the parent stage's name
	resolved bool   // image has no unexpanded variables
	from     *parser.Node
	parent   *stage
	nodes    []*parser.Node
}

// Lint checks one Dockerfile; file is the name used in findings.
func Lint(file string, src []byte, opt Options) ([]report.Finding, error) {
	d, err := parse(file, src, opt)
	if err != nil {
		return nil, err
	}
	stages := d.stages
	final := stages[len(stages)-1]
	if opt.Target != "" {
		i := slices.IndexFunc(stages, func(s *stage) bool { return strings.EqualFold(s.name, opt.Target) })
		if i < 0 {
			return nil, fmt.Errorf("target %q in %q: %w", opt.Target, file, ErrNoTarget)
		}
		final = stages[i]
	}

	l := &linter{file: file, opt: opt, stages: stages}
	for _, st := range stages {
		l.basePinned(st)
		l.addRemote(st)
	}
	l.finalStage(final)
	report.Sort(l.out)
	return l.out, nil
}

type linter struct {
	file   string
	opt    Options
	stages []*stage
	out    []report.Finding
}

func (l *linter) add(rule string, sev report.Severity, line int, format string, args ...any) {
	l.out = append(l.out, report.Finding{
		Source: report.SourceLint, Rule: rule, Severity: sev, File: l.file, Line: line,
		Message: fmt.Sprintf(format, args...),
	})
}

func (l *linter) basePinned(st *stage) {
	if st.parent != nil || !st.resolved || strings.EqualFold(st.image, "scratch") {
		return
	}
	ref := parseRef(st.image)
	switch {
	case ref.digest != "":
	case ref.tag == "" || ref.tag == "latest":
		l.add(RuleBaseUnpinned, report.Error, st.from.StartLine,
			"base image %q floats (no tag or :latest): pin a version tag and its digest, e.g. %s:<version>@sha256:<digest>", st.image, ref.repo)
	default:
		l.add(RuleBaseUnpinned, report.Notice, st.from.StartLine,
			"base image %q has a tag but no digest: tags move; pin it as %s@sha256:<digest> so rebuilds are reproducible", st.image, st.image)
	}
}

// addRemote: what ADD fetches from a URL or a Git repository changes under
// the build unless its content is pinned: a sha256 checksum for a URL, a
// full commit (in the URL or as --checksum) for a repository.
func (l *linter) addRemote(st *stage) {
	for _, n := range st.nodes {
		a := args(n)
		if !strings.EqualFold(n.Value, "add") || len(a) < 2 {
			continue
		}
		var checksum string
		for _, f := range n.Flags {
			if v, ok := strings.CutPrefix(f, "--checksum="); ok {
				checksum = v
			}
		}
		for _, src := range a[:len(a)-1] {
			git, isGit, err := dfgitutil.ParseGitRef(src)
			shown := src
			if u, err := url.Parse(src); err == nil && u.User != nil {
				shown = u.Redacted()
			}
			switch {
			case err == nil && !git.IndistinguishableFromLocal, err != nil && isGit:
				if err == nil && (fullCommit.MatchString(git.Ref) || fullCommit.MatchString(git.Checksum)) || fullCommit.MatchString(checksum) {
					continue
				}
				l.add(RuleAddRemote, report.Warning, n.StartLine,
					"ADD %s fetches a Git repository at no full commit (a branch or tag moves, a short commit prefix can collide): pin it, e.g. ADD --checksum=<40-hex commit> %s, or %s#<40-hex commit>", shown, shown, strings.SplitN(shown, "#", 2)[0])
			case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
				if sha256Checksum.MatchString(checksum) {
					continue
				}
				why := ""
				if checksum != "" {
					why = fmt.Sprintf(" (--checksum=%s is not sha256:<64 hex>)", checksum)
				}
				l.add(RuleAddRemote, report.Warning, n.StartLine,
					"ADD %s downloads content that can change under the same URL%s: pin it with ADD --checksum=sha256:<digest>", shown, why)
			}
		}
	}
}

var (
	fullCommit     = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	sha256Checksum = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// root follows FROM <stage> links to the image the stage really starts from.
func root(st *stage) *stage {
	for st.parent != nil {
		st = st.parent
	}
	return st
}

// chain is the stage and the stages it builds on, nearest first.
func chain(st *stage) []*stage {
	var c []*stage
	for ; st != nil; st = st.parent {
		c = append(c, st)
	}
	return c
}

// last returns the last instruction named cmd in the stage or the stages it
// builds on.
func last(st *stage, cmd string) *parser.Node {
	for _, s := range chain(st) {
		for i := len(s.nodes) - 1; i >= 0; i-- {
			if strings.EqualFold(s.nodes[i].Value, cmd) {
				return s.nodes[i]
			}
		}
	}
	return nil
}

func (l *linter) finalStage(final *stage) {
	base := root(final)
	ref := parseRef(base.image)
	line := final.from.StartLine

	if base.resolved && !ref.minimal() {
		l.add(RuleFinalNotMinimal, report.Warning, line,
			"final stage runs on %q, which carries a shell, package manager and libraries the app does not need: copy the artifact into gcr.io/distroless/static-debian12:nonroot, cgr.dev/chainguard/static or scratch", base.image)
	}
	if tc := ref.toolchain(); base.resolved && tc != "" {
		l.add(RuleSingleStageToolchain, report.Warning, line,
			"final stage is built on the %s image %q and ships its compilers: build in an earlier stage and COPY --from it into a minimal base", tc, base.image)
	}
	for _, s := range chain(final) {
		for _, n := range s.nodes {
			if !strings.EqualFold(n.Value, "run") {
				continue
			}
			if pkgs := installedCompilers(args(n)); len(pkgs) > 0 {
				l.add(RuleSingleStageToolchain, report.Warning, n.StartLine,
					"final stage installs %s: build in an earlier stage and copy only the result, so compilers and package caches stay out of the image", strings.Join(pkgs, ", "))
			}
		}
	}

	if base.resolved && ref.shellless() {
		for _, cmd := range []string{"entrypoint", "cmd", "healthcheck"} {
			n := last(final, cmd)
			if n == nil || n.Attributes["json"] {
				continue
			}
			if cmd == "healthcheck" {
				// HEALTHCHECK NONE, or HEALTHCHECK CMD ["..."] in exec form.
				if n.Next == nil || strings.EqualFold(n.Next.Value, "none") || (n.Next.Next != nil && n.Next.Next.Attributes["json"]) {
					continue
				}
			}
			l.add(RuleShellFormNoShell, report.Error, n.StartLine,
				"%s is in shell form, which runs /bin/sh -c, but %q has no shell: write it in exec form, e.g. %s [\"/app\", \"--flag\"]", strings.ToUpper(cmd), base.image, strings.ToUpper(cmd))
		}
	}

	l.railsPID(final)
	l.rootUser(final, ref)
}

var railsServer = regexp.MustCompile(`\brails\s+(server|s)\b`)

func (l *linter) railsPID(final *stage) {
	cmd, ep := last(final, "cmd"), last(final, "entrypoint")
	var starter *parser.Node
	for _, n := range []*parser.Node{ep, cmd} {
		if n != nil && railsServer.MatchString(strings.Join(args(n), " ")) {
			starter = n
			break
		}
	}
	if starter == nil {
		return
	}
	if removesPID(strings.Join(args(starter), " ")) || (ep != nil && l.entrypointRemovesPID(final, ep)) {
		return
	}
	why := "there is no ENTRYPOINT"
	if ep != nil {
		why = fmt.Sprintf("its ENTRYPOINT %q does not remove it", strings.Join(args(ep), " "))
	}
	l.add(RuleRailsServerPID, report.Warning, starter.StartLine,
		"a Rails server is started but %s: after a crash or kill the stale tmp/pids/server.pid makes the restarted container exit with \"A server is already running\". Fix: an entrypoint script that runs `rm -f tmp/pids/server.pid` then `exec \"$@\"`, set as ENTRYPOINT [\"/rails/bin/docker-entrypoint\"] with the server in CMD", why)
}

func removesPID(s string) bool {
	return strings.Contains(s, "server.pid") && strings.Contains(s, "rm ")
}

// entrypointRemovesPID looks for the entrypoint script in the build context
// and reads it.
func (l *linter) entrypointRemovesPID(final *stage, ep *parser.Node) bool {
	a := args(ep)
	if len(a) == 0 {
		return false
	}
	if !ep.Attributes["json"] {
		if removesPID(a[0]) {
			return true
		}
		a = strings.Fields(a[0])
	}
	script := a[0]
	if (script == "sh" || script == "bash" || script == "/bin/sh" || script == "/bin/bash") && len(a) > 1 {
		script = a[1]
	}
	if l.opt.Context == nil {
		return false
	}
	for _, c := range l.scriptCandidates(final, script) {
		b, err := fs.ReadFile(l.opt.Context, c)
		if err == nil && removesPID(string(b)) {
			return true
		}
	}
	return false
}

// scriptCandidates maps the entrypoint's path in the image back to context
// paths through the COPY/ADD instructions that could have put it there.
func (l *linter) scriptCandidates(final *stage, script string) []string {
	var out []string
	add := func(p string) {
		p = path.Clean(strings.TrimPrefix(p, "./"))
		if fs.ValidPath(p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	abs := func(workdir, p string) string {
		if path.IsAbs(p) {
			return path.Clean(p)
		}
		return path.Join("/", workdir, p)
	}
	finalWorkdir := "/"
	if w := last(final, "workdir"); w != nil && len(args(w)) > 0 {
		finalWorkdir = abs("/", args(w)[0])
	}
	target := abs(finalWorkdir, script)
	for _, st := range l.stages {
		workdir := "/"
		for _, n := range st.nodes {
			v := strings.ToLower(n.Value)
			a := args(n)
			if v == "workdir" && len(a) > 0 {
				workdir = abs(workdir, a[0])
			}
			if v != "copy" && v != "add" || len(a) < 2 || slices.ContainsFunc(n.Flags, func(f string) bool { return strings.HasPrefix(f, "--from") }) {
				continue
			}
			dest := abs(workdir, a[len(a)-1])
			for _, src := range a[:len(a)-1] {
				switch {
				case target == dest, target == path.Join(dest, path.Base(src)):
					add(src)
				case strings.HasPrefix(target, strings.TrimSuffix(dest, "/")+"/"):
					add(path.Join(src, strings.TrimPrefix(target, strings.TrimSuffix(dest, "/")+"/")))
				}
			}
		}
	}
	add(strings.TrimPrefix(target, "/"))
	add(path.Base(script))
	return out
}

func (l *linter) rootUser(final *stage, ref imageRef) {
	if u := last(final, "user"); u != nil {
		a := args(u)
		if len(a) == 0 {
			return
		}
		name, _, _ := strings.Cut(a[0], ":")
		if name == "root" || name == "0" {
			l.add(RuleRootUser, report.Warning, u.StartLine,
				"final stage switches to USER %s: run as an unprivileged user, e.g. USER 65532:65532", a[0])
		}
		return
	}
	if ref.nonrootByDefault() {
		return
	}
	l.add(RuleRootUser, report.Warning, final.from.StartLine,
		"final stage sets no USER and %q runs as root by default: add USER 65532:65532 (or a :nonroot base)", root(final).image)
}

// args returns an instruction's words: exec-form items, or the one
// shell-form string.
func args(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

var installCmd = regexp.MustCompile(`\b(apt-get|apt|apk|dnf|yum|microdnf)\s+(-\S+\s+)*(install|add)\b`)

// compilers are packages that put a build toolchain into an image.
var compilers = []string{"build-essential", "gcc", "g++", "clang", "make", "golang", "golang-go", "go", "rust", "rustc", "cargo", "maven", "gradle", "default-jdk", "musl-dev", "libc-dev", "libc6-dev"}

func installedCompilers(words []string) []string {
	var found []string
	for _, part := range regexp.MustCompile(`&&|;|\|\|`).Split(strings.Join(words, " "), -1) {
		if !installCmd.MatchString(part) {
			continue
		}
		for _, w := range strings.Fields(part) {
			w = strings.Trim(w, `\"'`)
			name, _, _ := strings.Cut(w, "=")
			if slices.Contains(compilers, name) || (strings.HasPrefix(name, "openjdk-") && strings.HasSuffix(name, "-jdk")) {
				if !slices.Contains(found, name) {
					found = append(found, name)
				}
			}
		}
	}
	return found
}

// envMap is the ARG values FROM lines expand with.
type envMap map[string]string

func (e envMap) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e envMap) Keys() []string {
	var ks []string
	for k := range e {
		ks = append(ks, k)
	}
	return ks
}
