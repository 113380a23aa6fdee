package action

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
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
	lists  map[string]bool // read with List or Lines
	errs   []error
	masks  []string
}

// errHelp and errVersion are returned by parseArgs for --help / --version.
var (
	errHelp    = errors.New("help requested")
	errVersion = errors.New("version requested")
)

// flagValue records each value a flag was given, so that a list input
// can repeat and any other input given twice is refused, not silently
// overridden.
type flagValue struct {
	vals   *[]string
	isBool bool
}

func (f flagValue) String() string   { return "" }
func (f flagValue) IsBoolFlag() bool { return f.isBool }
func (f flagValue) Set(s string) error {
	*f.vals = append(*f.vals, s)
	return nil
}

// emptyIsDefault holds the types where an empty value is no value at all,
// so an empty flag means the default as an empty INPUT_* env var does.
var emptyIsDefault = map[string]bool{manifest.TypeBool: true, manifest.TypeInt: true, manifest.TypeDuration: true}

// ParseInputs reads args (without the program name) against the action's
// manifest entry. It is pure: all env comes through getenv.
func ParseInputs(spec *manifest.Action, args []string, getenv func(string) string) (*Inputs, error) {
	fs := flag.NewFlagSet(spec.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := map[string]*[]string{}
	for _, in := range spec.Inputs {
		v := new([]string)
		vals[in.Name] = v
		fs.Var(flagValue{v, in.Type == manifest.TypeBool}, in.Name, in.Description)
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
		if name := boolBefore(spec, args, len(args)-fs.NArg()); name != "" {
			return nil, Usage(name, "--%s takes no separate value: use --%s=%s (true or false)", name, name, fs.Arg(0))
		}
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: unexpected argument %q: every input is a --flag (see --help)", spec.Name, fs.Arg(0))}
	}
	in := &Inputs{spec: spec, flags: map[string]string{}, getenv: getenv, read: map[string]bool{}, lists: map[string]bool{}}
	var errs []error
	for _, d := range spec.Inputs {
		v := *vals[d.Name]
		switch {
		case len(v) == 0:
			continue
		case d.Type == manifest.TypeList || d.Type == manifest.TypeLines:
			// Newline joins for both: lists split on it too.
			in.flags[d.Name] = strings.Join(v, "\n")
		case len(v) > 1:
			errs = append(errs, Usage(d.Name, "--%s is given %d times; give it once (only list inputs repeat)", d.Name, len(v)))
		case emptyIsDefault[d.Type] && strings.TrimSpace(v[0]) == "":
		default:
			in.flags[d.Name] = v[0]
		}
	}
	if len(errs) > 0 {
		return nil, &ExitError{Code: ExitUsage, Err: errors.Join(errs...)}
	}
	return in, nil
}

// boolBefore names the bool input whose bare flag sits right before
// args[i], the first argument the flag package did not take.
func boolBefore(spec *manifest.Action, args []string, i int) string {
	if i < 1 {
		return ""
	}
	name := strings.TrimLeft(args[i-1], "-")
	if name == args[i-1] || strings.Contains(name, "=") {
		return ""
	}
	if d := spec.Input(name); d != nil && d.Type == manifest.TypeBool {
		return name
	}
	return ""
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
	in.lists[name] = true
	return splitList(v, true)
}

// Lines splits on newlines only, for items that contain commas.
func (in *Inputs) Lines(name string) []string {
	v := in.String(name)
	in.lists[name] = true
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

// MaxInt bounds an int input whose manifest entry sets no max: far above
// any real count, and small enough that no product the actions form with
// it overflows.
const MaxInt = math.MaxInt32

// MaxDuration bounds every duration input: 100 years (36500d) is beyond
// any real age or timeout, and well inside time.Duration's 292 years, so
// no input can wrap round to a negative value.
const MaxDuration = 36500 * 24 * time.Hour

// Int parses a non-negative integer no larger than the input's max.
func (in *Inputs) Int(name string) int {
	v := in.String(name)
	limit := in.spec.Input(name).Max
	if limit == 0 {
		limit = MaxInt
	}
	n, err := ParseInt(v, limit)
	if err != nil {
		in.fail(name, "%v", err)
	}
	return n
}

// ParseInt reads "" (zero) or a whole number from 0 to limit.
func ParseInt(v string, limit int) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > int64(limit) {
		return 0, fmt.Errorf("%q is not a whole number from 0 to %d", v, limit)
	}
	return int(n), nil
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

// ParseDuration reads "", "0", Go durations, and NNd / NNw, up to MaxDuration.
func ParseDuration(v string) (time.Duration, error) {
	if v == "" || v == "0" {
		return 0, nil
	}
	bad := fmt.Errorf("%q is not a duration like 90m, 72h or 14d of at most 36500d (100 years)", v)
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		n, ok := strings.CutSuffix(v, u.suffix)
		if !ok {
			continue
		}
		k, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			break // not NNd: maybe a Go duration such as 1.5d, which time refuses
		}
		// Compare before multiplying: the product is what overflows.
		if k < 0 || k > int64(MaxDuration/u.unit) {
			return 0, bad
		}
		return time.Duration(k) * u.unit, nil
	}
	// time.ParseDuration reports overflow as an error itself.
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > MaxDuration {
		return 0, bad
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

// ReadAsList reports whether the action read the input as a list; the
// tests use it to prove a repeated list flag reaches the action whole.
func (in *Inputs) ReadAsList(name string) bool { return in.lists[name] }

// Masks returns the secret values read so far.
func (in *Inputs) Masks() []string { return in.masks }
