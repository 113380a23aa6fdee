package scripts

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

func loadManifest(t *testing.T) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Every manifest action has a binary, and every binary a manifest entry.
func TestEveryActionHasABinary(t *testing.T) {
	m := loadManifest(t)
	var names []string
	for _, a := range m.Actions {
		names = append(names, a.Name)
		if _, ok := Actions[a.Name]; !ok {
			t.Errorf("manifest action %q has no entry point", a.Name)
		}
		if _, err := os.Stat(filepath.Join("..", "..", "cmd", a.Name, "main.go")); err != nil {
			t.Errorf("manifest action %q has no cmd/%s/main.go", a.Name, a.Name)
		}
	}
	for name := range Actions {
		if !slices.Contains(names, name) {
			t.Errorf("binary %q is not in actions/actions.yaml", name)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "cmd", "*"))
	for _, d := range dirs {
		if !slices.Contains(names, filepath.Base(d)) {
			t.Errorf("cmd/%s is not in actions/actions.yaml", filepath.Base(d))
		}
	}
}

var helpFlag = regexp.MustCompile(`(?m)^  --([a-z0-9-]+) \(`)

// Every manifest input is a flag of its binary, every flag a manifest
// input, and the action's config parser reads every one of them (reading an
// input the manifest lacks panics).
func TestInputsAreFlagsAndRead(t *testing.T) {
	m := loadManifest(t)
	for _, a := range m.Actions {
		t.Run(a.Name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Actions[a.Name].Main(context.Background(), []string{a.Name, "--help"}, func(string) string { return "" }, &out, &errb); code != 0 {
				t.Fatalf("--help exit %d: %s", code, errb.String())
			}
			var flags []string
			for _, mm := range helpFlag.FindAllStringSubmatch(out.String(), -1) {
				flags = append(flags, mm[1])
			}
			var inputs []string
			for _, in := range a.Inputs {
				inputs = append(inputs, in.Name)
				if !strings.Contains(out.String(), in.Description) {
					t.Errorf("--help lacks the description of %s", in.Name)
				}
			}
			if !slices.Equal(flags, inputs) {
				t.Errorf("flags %v\n!= inputs %v", flags, inputs)
			}
			in, err := action.ParseInputs(&a, nil, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("config parser reads an input the manifest lacks: %v", r)
					}
				}()
				_ = Actions[a.Name].Parse(in)
			}()
			unread := slices.DeleteFunc(in.Unread(), func(s string) bool { return s == "report-file" })
			if len(unread) > 0 {
				t.Errorf("the config parser never reads inputs %v", unread)
			}
		})
	}
}

// Every output name an action's package sets is declared in the manifest.
func TestOutputsAreDeclared(t *testing.T) {
	m := loadManifest(t)
	for _, a := range m.Actions {
		pkg := filepath.Join("..", Actions[a.Name].Package)
		names, err := setOutputNames(pkg)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if !a.HasOutput(n) {
				t.Errorf("internal/%s sets output %q, which %s does not declare", Actions[a.Name].Package, n, a.Name)
			}
		}
	}
}

// setOutputNames finds the literal first arguments of SetOutput calls.
func setOutputNames(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", f, err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "SetOutput" {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					names = append(names, s)
				}
			}
			return true
		})
	}
	return names, nil
}
