package action

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

// Inputs reads an action's inputs: --flag beats INPUT_* env beats the
// manifest default. Reading an undeclared input panics (a programming
// error caught by the tests); parse errors collect and come back from Err
// as usage errors naming the input.
type Inputs struct {
	spec   *manifest.Action
	flags  map[string]string
	getenv func(string) string
	read   map[string]bool
	errs   []error
	masks  []string
}

// errHelp and errVersion are returned by parseArgs for --help / --version.
var (
	errHelp    = errors.New("help requested")
	errVersion = errors.New("version requested")
)

// boolValue lets --dry-run stand alone while still recording the raw text.
type boolValue struct{ v *string }

func (b boolValue) String() string   { return "" }
func (b boolValue) IsBoolFlag() bool { return true }
func (b boolValue) Set(s string) error {
	*b.v = s
	return nil
}

type strValue struct{ v *string }

func (s strValue) String() string { return "" }
func (s strValue) Set(v string) error {
	*s.v = v
	return nil
}

// ParseInputs reads args (without the program name) against the action's
// manifest entry. It is pure: all env comes through getenv.
func ParseInputs(spec *manifest.Action, args []string, getenv func(string) string) (*Inputs, error) {
	fs := flag.NewFlagSet(spec.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := map[string]*string{}
	for _, in := range spec.Inputs {
		v := new(string)
		vals[in.Name] = v
		if in.Type == manifest.TypeBool {
			fs.Var(boolValue{v}, in.Name, in.Description)
		} else {
			fs.Var(strValue{v}, in.Name, in.Description)
		}
	}
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	ver := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: %w (see --help)", spec.Name, err)}
	}
	if *help {
		return nil, errHelp
	}
	if *ver {
		return nil, errVersion
	}
	if fs.NArg() > 0 {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: unexpected argument %q: every input is a --flag (see --help)", spec.Name, fs.Arg(0))}
	}
	in := &Inputs{spec: spec, flags: map[string]string{}, getenv: getenv, read: map[string]bool{}}
	fs.Visit(func(f *flag.Flag) {
		if v, ok := vals[f.Name]; ok {
			in.flags[f.Name] = *v
		}
	})
	return in, nil
}

// EnvName is the env var an input is read from, as the runner sets it.
func EnvName(input string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(input, " ", "_"))
}

func (in *Inputs) def(name string) *manifest.Input {
	d := in.spec.Input(name)
	if d == nil {
		panic(fmt.Sprintf("action %s reads undeclared input %q: add it to actions/actions.yaml", in.spec.Name, name))
	}
	in.read[name] = true
	return d
}

// raw returns the input's text and whether the user gave it.
func (in *Inputs) raw(name string) (string, bool) {
	d := in.def(name)
	if v, ok := in.flags[name]; ok {
		return v, true
	}
	if v := in.getenv(EnvName(name)); v != "" {
		return v, true
	}
	// The runner also sets INPUT_FOO_BAR on some hosts; accept it.
	if v := in.getenv(strings.ReplaceAll(EnvName(name), "-", "_")); v != "" {
		return v, true
	}
	return d.Default, false
}

// IsSet reports whether the user gave the input by flag or env.
func (in *Inputs) IsSet(name string) bool {
	_, ok := in.raw(name)
	return ok
}

func (in *Inputs) fail(name, format string, args ...any) {
	in.errs = append(in.errs, Usage(name, format, args...))
}

// String returns the input, trimmed of surrounding space.
func (in *Inputs) String(name string) string {
	v, _ := in.raw(name)
	v = strings.TrimSpace(v)
	if v == "" && in.spec.Input(name).Required {
		in.fail(name, "is required")
	}
	return v
}

// Secret returns the input and records it for masking before first use.
func (in *Inputs) Secret(name string) string {
	v := in.String(name)
	if v != "" {
		in.masks = append(in.masks, v)
	}
	return v
}

// OneOf returns the input when it is one of allowed.
func (in *Inputs) OneOf(name string, allowed ...string) string {
	v := in.String(name)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	in.fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return v
}

// List splits on commas and newlines; empty items are dropped.
func (in *Inputs) List(name string) []string {
	v := in.String(name)
	return splitList(v, true)
}

// Lines splits on newlines only, for items that contain commas.
func (in *Inputs) Lines(name string) []string {
	v := in.String(name)
	return splitList(v, false)
}

func splitList(v string, commas bool) []string {
	sep := func(r rune) bool { return r == '\n' || r == '\r' || (commas && r == ',') }
	var out []string
	for _, f := range strings.FieldsFunc(v, sep) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Bool parses true/false (also 1/0, yes/no, on/off).
func (in *Inputs) Bool(name string) bool {
	v := strings.ToLower(in.String(name))
	switch v {
	case "true", "1", "yes", "on", "t":
		return true
	case "false", "0", "no", "off", "f", "":
		return false
	}
	in.fail(name, "%q is not a boolean (true or false)", v)
	return false
}

// Int parses a non-negative integer.
func (in *Inputs) Int(name string) int {
	v := in.String(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		in.fail(name, "%q is not a non-negative whole number", v)
		return 0
	}
	return n
}

// Duration parses a Go duration, also accepting whole days (14d) and weeks (2w).
func (in *Inputs) Duration(name string) time.Duration {
	v := in.String(name)
	d, err := ParseDuration(v)
	if err != nil {
		in.fail(name, "%v", err)
	}
	return d
}

// ParseDuration reads "", "0", Go durations, and NNd / NNw.
func ParseDuration(v string) (time.Duration, error) {
	if v == "" || v == "0" {
		return 0, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			if k, err := strconv.Atoi(n); err == nil && k >= 0 {
				return time.Duration(k) * unit, nil
			}
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration like 90m, 72h or 14d", v)
	}
	return d, nil
}

// Fail records a usage error for an input whose value the action found wrong.
func (in *Inputs) Fail(name, format string, args ...any) {
	in.def(name)
	in.fail(name, format, args...)
}

// Err returns every input error joined, as one usage error (exit 2).
func (in *Inputs) Err() error {
	if len(in.errs) == 0 {
		return nil
	}
	return &ExitError{Code: ExitUsage, Err: errors.Join(in.errs...)}
}

// Unread lists declared inputs the action never read; the tests use it to
// prove every manifest input is wired to the binary.
func (in *Inputs) Unread() []string {
	var out []string
	for _, d := range in.spec.Inputs {
		if !in.read[d.Name] {
			out = append(out, d.Name)
		}
	}
	return out
}

// Masks returns the secret values read so far.
func (in *Inputs) Masks() []string { return in.masks }
