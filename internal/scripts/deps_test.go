package scripts

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/gitops-actions/gitops-actions"

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, pattern string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", pattern)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// The architecture rules of CONVENTIONS.md, like crane's depcheck.
func TestDependencyRules(t *testing.T) {
	for _, p := range goList(t, "./cmd/...") {
		name := strings.TrimPrefix(p.ImportPath, module+"/cmd/")
		want := module + "/internal/" + Actions[name].Package
		for _, imp := range p.Imports {
			// The runtime's Supervise runs main's work in a child process;
			// internal/supervisor/start starts that child from its init.
			if strings.HasPrefix(imp, module) && imp != want && imp != module+"/internal/action" && imp != module+"/internal/supervisor/start" {
				t.Errorf("cmd/%s imports %s; a command imports only %s, internal/action and internal/supervisor/start", name, imp, want)
			}
		}
	}
	forbidden := map[string][]string{
		// The config gate stays small and offline: no image scanners in it.
		"/internal/validate": {"github.com/aquasecurity/trivy", "github.com/anchore/syft", "github.com/anchore/grype"},
		// Signing needs sigstore-go, not all of cosign (a 140 MB CLI) nor a scanner.
		"/internal/attest": {"github.com/sigstore/cosign", "github.com/aquasecurity/trivy", "github.com/anchore/syft", "github.com/anchore/grype", "helm.sh/helm"},
		// The runtime and report are shared by everything: keep them light.
		"/internal/action": {"github.com/aquasecurity/trivy", "github.com/anchore/syft", "github.com/anchore/grype", "helm.sh/helm", "github.com/open-policy-agent/opa"},
		"/internal/report": {"github.com/aquasecurity/trivy", "github.com/anchore/syft", "github.com/anchore/grype", "helm.sh/helm", "github.com/open-policy-agent/opa"},
	}
	// The supervisor starts the child before the command's dependencies
	// initialise only while it needs nothing but the standard library.
	for _, p := range goList(t, "./internal/supervisor/...") {
		for _, d := range p.Deps {
			first, _, _ := strings.Cut(d, "/")
			if strings.Contains(first, ".") && !strings.HasPrefix(d, module+"/internal/supervisor") {
				t.Errorf("%s depends on %s; it may use the standard library only", p.ImportPath, d)
			}
		}
	}
	for pkg, bad := range forbidden {
		for _, p := range goList(t, "."+pkg) {
			for _, d := range p.Deps {
				for _, b := range bad {
					if strings.HasPrefix(d, b) {
						t.Errorf("%s depends on %s", p.ImportPath, d)
					}
				}
			}
		}
	}
}

// Nothing below main exits the process or reads the environment itself:
// every test runs the real entry point in-process.
func TestNoExitOrGetenvBelowMain(t *testing.T) {
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		// Generators are programs of their own; testenv serves tests only;
		// internal/supervisor/start is main's prologue, imported by
		// cmd/*/main.go alone, and exits with the supervised child's code.
		if strings.Contains(path, "/gen/") || strings.Contains(path, "testenv") || strings.Contains(path, "supervisor/start/") {
			return nil
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" {
				switch sel.Sel.Name {
				case "Exit", "Getenv", "LookupEnv", "Environ":
					t.Errorf("%s calls os.%s; take it from Main's arguments", path, sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
