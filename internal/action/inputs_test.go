package action

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

var testSpec = &manifest.Action{
	Name: "t",
	Inputs: []manifest.Input{
		{Name: "name", Type: manifest.TypeString, Default: "dflt", Description: "d"},
		{Name: "items", Type: manifest.TypeList, Description: "d"},
		{Name: "rules", Type: manifest.TypeLines, Description: "d"},
		{Name: "dry-run", Type: manifest.TypeBool, Default: "false", Description: "d"},
		{Name: "older-than", Type: manifest.TypeDuration, Default: "0", Description: "d"},
		{Name: "keep", Type: manifest.TypeInt, Default: "3", Description: "d"},
		{Name: "token", Type: manifest.TypeSecret, Description: "d"},
		{Name: "need", Type: manifest.TypeString, Required: true, Description: "d"},
		{Name: "report-file", Description: "d"},
	},
	Outputs: []manifest.Output{{Name: "out", Description: "d"}},
}

type parsed struct {
	Name   string
	Items  []string
	Rules  []string
	DryRun bool
	Older  time.Duration
	Keep   int
	Token  string
	Need   string
}

func parseTest(in *Inputs) parsed {
	return parsed{
		Name: in.String("name"), Items: in.List("items"), Rules: in.Lines("rules"),
		DryRun: in.Bool("dry-run"), Older: in.Duration("older-than"), Keep: in.Int("keep"),
		Token: in.Secret("token"), Need: in.String("need"),
	}
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseInputs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    parsed
		wantErr []string // substrings; each names the input
	}{
		{
			name: "defaults",
			env:  map[string]string{"INPUT_NEED": "x"},
			want: parsed{Name: "dflt", Keep: 3, Need: "x"},
		},
		{
			name: "flag beats env beats default",
			args: []string{"--name", "flag", "--need=x"},
			env:  map[string]string{"INPUT_NAME": "env", "INPUT_KEEP": "7"},
			want: parsed{Name: "flag", Keep: 7, Need: "x"},
		},
		{
			name: "hyphenated env name as the runner sets it",
			env:  map[string]string{"INPUT_DRY-RUN": "true", "INPUT_OLDER-THAN": "14d", "INPUT_NEED": "x"},
			want: parsed{Name: "dflt", DryRun: true, Older: 14 * 24 * time.Hour, Keep: 3, Need: "x"},
		},
		{
			name: "lists split on commas and newlines, lines on newlines only",
			args: []string{"--items", "a, b\nc,,", "--rules", "type=ref,event=branch\n\ntype=sha", "--need", "x"},
			want: parsed{Name: "dflt", Items: []string{"a", "b", "c"}, Rules: []string{"type=ref,event=branch", "type=sha"}, Keep: 3, Need: "x"},
		},
		{
			name: "bare bool flag and explicit false",
			args: []string{"--dry-run", "--need", "x"},
			env:  map[string]string{"INPUT_DRY-RUN": "false"},
			want: parsed{Name: "dflt", DryRun: true, Keep: 3, Need: "x"},
		},
		{
			name: "go duration",
			args: []string{"--older-than", "90m", "--need", "x"},
			want: parsed{Name: "dflt", Older: 90 * time.Minute, Keep: 3, Need: "x"},
		},
		{
			name: "secret",
			args: []string{"--token", " s3cr3t ", "--need", "x"},
			want: parsed{Name: "dflt", Keep: 3, Token: "s3cr3t", Need: "x"},
		},
		{
			name:    "bad bool, duration, int and a missing required input all named",
			args:    []string{"--dry-run=maybe", "--older-than", "soon", "--keep", "-1"},
			wantErr: []string{`"dry-run"`, `"older-than"`, `"keep"`, `"need": is required`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := ParseInputs(testSpec, tt.args, envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			got := parseTest(in)
			err = in.Err()
			if len(tt.wantErr) > 0 {
				if CodeOf(err) != ExitUsage {
					t.Fatalf("err = %v (code %d), want a usage error", err, CodeOf(err))
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %s", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalParsed(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func equalParsed(a, b parsed) bool {
	return a.Name == b.Name && slices.Equal(a.Items, b.Items) && slices.Equal(a.Rules, b.Rules) &&
		a.DryRun == b.DryRun && a.Older == b.Older && a.Keep == b.Keep && a.Token == b.Token && a.Need == b.Need
}

func TestParseInputsUsage(t *testing.T) {
	if _, err := ParseInputs(testSpec, []string{"--nope"}, envOf(nil)); CodeOf(err) != ExitUsage || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown flag: err = %v", err)
	}
	if _, err := ParseInputs(testSpec, []string{"stray"}, envOf(nil)); CodeOf(err) != ExitUsage || !strings.Contains(err.Error(), "stray") {
		t.Errorf("positional argument: err = %v", err)
	}
	if _, err := ParseInputs(testSpec, []string{"--help"}, envOf(nil)); !errors.Is(err, errHelp) {
		t.Errorf("--help: err = %v", err)
	}
	if _, err := ParseInputs(testSpec, []string{"--version"}, envOf(nil)); !errors.Is(err, errVersion) {
		t.Errorf("--version: err = %v", err)
	}
}

func TestUndeclaredInputPanics(t *testing.T) {
	in, err := ParseInputs(testSpec, nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "undeclared input") {
			t.Errorf("recover() = %v", r)
		}
	}()
	in.String("not-in-manifest")
}

func TestUnread(t *testing.T) {
	in, _ := ParseInputs(testSpec, nil, envOf(nil))
	in.String("name")
	got := in.Unread()
	if slices.Contains(got, "name") || !slices.Contains(got, "keep") {
		t.Errorf("Unread() = %v", got)
	}
}

func TestParseDurationBounds(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"14d", 14 * 24 * time.Hour, true},
		{"2w", 14 * 24 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"36500d", MaxDuration, true},
		{"36501d", 0, false},
		{"5215w", 0, false},
		// Each of these wrapped round to a negative duration once.
		{"106752d", 0, false},
		{"200000w", 0, false},
		{"9223372036854775807d", 0, false},
		{"99999999999999999999d", 0, false},
		{"876601h", 0, false},
		{"9223372036854775807ns", 0, false},
		{"2562047h2562047h", 0, false},
		{"-1d", 0, false},
		{"-1h", 0, false},
		{"1.5d", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestIntBounds(t *testing.T) {
	spec := &manifest.Action{Name: "t", Inputs: []manifest.Input{
		{Name: "keep", Type: manifest.TypeInt, Default: "3", Description: "d"},
		{Name: "concurrency", Type: manifest.TypeInt, Default: "8", Max: 64, Description: "d"},
	}}
	tests := []struct {
		args []string
		keep int
		conc int
		bad  string // the input named in the error
	}{
		{args: nil, keep: 3, conc: 8},
		{args: []string{"--keep", "2147483647", "--concurrency", "64"}, keep: MaxInt, conc: 64},
		{args: []string{"--concurrency", "65"}, bad: "concurrency"},
		{args: []string{"--keep", "2147483648"}, bad: "keep"},
		{args: []string{"--keep", "9223372036854775808"}, bad: "keep"},
		{args: []string{"--keep", "-1"}, bad: "keep"},
		{args: []string{"--keep", "0x10"}, bad: "keep"},
	}
	for _, tt := range tests {
		in, err := ParseInputs(spec, tt.args, envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		keep, conc := in.Int("keep"), in.Int("concurrency")
		err = in.Err()
		if tt.bad != "" {
			if CodeOf(err) != ExitUsage || !strings.Contains(err.Error(), `"`+tt.bad+`"`) {
				t.Errorf("%v: err = %v, want a usage error naming %s", tt.args, err, tt.bad)
			}
			continue
		}
		if err != nil || keep != tt.keep || conc != tt.conc {
			t.Errorf("%v: keep %d concurrency %d err %v", tt.args, keep, conc, err)
		}
	}
}

func TestRepeatedFlags(t *testing.T) {
	in, err := ParseInputs(testSpec, []string{"--items", "a", "--items", "b,c", "--rules", "x=1,y=2", "--rules=z", "--need", "x"}, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := in.List("items"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("repeated list = %q", got)
	}
	if got := in.Lines("rules"); !slices.Equal(got, []string{"x=1,y=2", "z"}) {
		t.Errorf("repeated lines = %q", got)
	}
	for _, args := range [][]string{{"--name", "a", "--name", "b"}, {"--dry-run", "--dry-run=false"}, {"--keep", "1", "--keep=2"}} {
		name := strings.TrimPrefix(args[0], "--")
		_, err := ParseInputs(testSpec, args, envOf(nil))
		if CodeOf(err) != ExitUsage || !strings.Contains(err.Error(), `"`+name+`"`) || !strings.Contains(err.Error(), "2 times") {
			t.Errorf("%v: err = %v, want a usage error naming %s", args, err, name)
		}
	}
}

// An empty typed flag means the default, as an empty INPUT_* does.
func TestEmptyFlagIsDefault(t *testing.T) {
	spec := &manifest.Action{Name: "t", Inputs: []manifest.Input{
		{Name: "no-downgrade", Type: manifest.TypeBool, Default: "true", Description: "d"},
		{Name: "keep", Type: manifest.TypeInt, Default: "3", Description: "d"},
		{Name: "older-than", Type: manifest.TypeDuration, Default: "14d", Description: "d"},
	}}
	for _, tt := range []struct {
		args []string
		env  map[string]string
	}{
		{args: []string{"--no-downgrade=", "--keep=", "--older-than="}},
		{args: []string{"--no-downgrade= ", "--keep", "", "--older-than", " "}},
		{env: map[string]string{"INPUT_NO-DOWNGRADE": "", "INPUT_KEEP": "", "INPUT_OLDER-THAN": ""}},
	} {
		in, err := ParseInputs(spec, tt.args, envOf(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		if b, k, d := in.Bool("no-downgrade"), in.Int("keep"), in.Duration("older-than"); !b || k != 3 || d != 14*24*time.Hour || in.Err() != nil {
			t.Errorf("%q %v: no-downgrade %v keep %d older-than %v err %v; want the defaults", tt.args, tt.env, b, k, d, in.Err())
		}
	}
}

func TestBoolFlagWithSeparateValue(t *testing.T) {
	for _, v := range []string{"maybe", "false", "true"} {
		_, err := ParseInputs(testSpec, []string{"--need", "x", "--dry-run", v}, envOf(nil))
		if CodeOf(err) != ExitUsage || !strings.Contains(err.Error(), `input "dry-run"`) || !strings.Contains(err.Error(), "--dry-run="+v) {
			t.Errorf("--dry-run %s: err = %v", v, err)
		}
	}
}
