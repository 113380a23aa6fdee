package scripts

import (
	"slices"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

// A repeated list flag adds up, for every list input of every action, and
// the action reads it as a list, so both values reach it.
func TestRepeatedListFlags(t *testing.T) {
	m, err := manifest.Load()
	if err != nil {
		t.Fatal(err)
	}
	lists := 0
	for _, spec := range m.Actions {
		for _, d := range spec.Inputs {
			if d.Type != manifest.TypeList && d.Type != manifest.TypeLines {
				continue
			}
			lists++
			t.Run(spec.Name+"/"+d.Name, func(t *testing.T) {
				in, err := action.ParseInputs(&spec, []string{"--" + d.Name, "a", "--" + d.Name + "=b"}, func(string) string { return "" })
				if err != nil {
					t.Fatal(err)
				}
				_ = Actions[spec.Name].Parse(in) // the values need not be valid here
				if !in.ReadAsList(d.Name) {
					t.Errorf("%s reads %s, a %s input, other than with List or Lines", spec.Name, d.Name, d.Type)
				}
				got := in.List(d.Name)
				if d.Type == manifest.TypeLines {
					got = in.Lines(d.Name)
				}
				if !slices.Equal(got, []string{"a", "b"}) {
					t.Errorf("--%s a --%s=b reads %q, want [a b]", d.Name, d.Name, got)
				}
			})
		}
	}
	if lists == 0 {
		t.Fatal("no list inputs in the manifest")
	}
}

// An empty bool, int or duration flag means the input's default, as an
// empty INPUT_* does, for every such input of every action.
func TestEmptyTypedFlagsMeanDefault(t *testing.T) {
	m, err := manifest.Load()
	if err != nil {
		t.Fatal(err)
	}
	none := func(string) string { return "" }
	for _, spec := range m.Actions {
		for _, d := range spec.Inputs {
			read := map[string]func(*action.Inputs) any{
				manifest.TypeBool:     func(in *action.Inputs) any { return in.Bool(d.Name) },
				manifest.TypeInt:      func(in *action.Inputs) any { return in.Int(d.Name) },
				manifest.TypeDuration: func(in *action.Inputs) any { return in.Duration(d.Name) },
			}[d.Type]
			if read == nil {
				continue
			}
			def, _ := action.ParseInputs(&spec, nil, none)
			for _, args := range [][]string{{"--" + d.Name + "="}, {"--" + d.Name + "= "}} {
				in, err := action.ParseInputs(&spec, args, none)
				if err != nil {
					t.Fatalf("%s %v: %v", spec.Name, args, err)
				}
				if got, want := read(in), read(def); got != want || in.Err() != nil {
					t.Errorf("%s %v reads %v (%v), want the default %v", spec.Name, args, got, in.Err(), want)
				}
			}
		}
	}
}
