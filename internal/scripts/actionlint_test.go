package scripts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

const repoRoot = "../.."

func newLinter(t *testing.T, out *bytes.Buffer) *actionlint.Linter {
	t.Helper()
	opts := &actionlint.LinterOptions{
		Oneline: true,
		// job.workflow_repository and job.workflow_sha (GitHub, April 2026)
		// are newer than actionlint v1.7.12's schema of the job context; the
		// reusable workflows need them to run this toolkit at their own commit.
		IgnorePatterns: []string{`property "workflow_(repository|sha)" is not defined in object type \{check_run_id: number;`},
	}
	// shellcheck makes actionlint check the run: scripts too (Debian package shellcheck).
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	} else if os.Getenv("CI") == "true" {
		t.Fatal("shellcheck is not installed (Debian package shellcheck); .ci/run installs it")
	}
	l, err := actionlint.NewLinter(out, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func report(t *testing.T, errs []*actionlint.Error, out *bytes.Buffer) {
	t.Helper()
	if len(errs) > 0 {
		t.Errorf("actionlint found %d problem(s):\n%s", len(errs), out.String())
	}
}

// Every workflow of this repo and of the examples passes actionlint.
func TestActionlintWorkflows(t *testing.T) {
	var files []string
	for _, pattern := range []string{".github/workflows/*.y*ml", "examples/*/.github/workflows/*.y*ml"} {
		m, _ := filepath.Glob(filepath.Join(repoRoot, pattern))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no workflow files found")
	}
	var out bytes.Buffer
	l := newLinter(t, &out)
	proj, err := actionlint.NewProject(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.LintFiles(files, proj)
	if err != nil {
		t.Fatal(err)
	}
	report(t, errs, &out)
}

// actionlint does not lint action.yml files, so each composite action's
// steps are lifted into a workflow (inputs become workflow_call inputs) and
// linted there, shell scripts included; a second workflow calls every
// action by its local path so its metadata is checked against the call.
func TestActionlintActions(t *testing.T) {
	m, err := manifest.Load()
	if err != nil {
		t.Fatal(err)
	}
	proj, err := actionlint.NewProject(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var caller strings.Builder
	caller.WriteString("name: call-actions\non: workflow_dispatch\npermissions:\n  contents: read\njobs:\n")
	for _, a := range m.Actions {
		path := filepath.Join(repoRoot, "actions", a.Name, "action.yml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Inputs map[string]struct {
				Required bool `yaml:"required"`
			} `yaml:"inputs"`
			Runs struct {
				Steps []any `yaml:"steps"`
			} `yaml:"runs"`
		}
		if err := yaml.Unmarshal(data, &meta); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		inputs := map[string]any{}
		for name := range meta.Inputs {
			inputs[name] = map[string]any{"type": "string", "required": false}
		}
		wf := map[string]any{
			"name":        "action-" + a.Name,
			"on":          map[string]any{"workflow_call": map[string]any{"inputs": inputs}},
			"permissions": map[string]any{"contents": "read"},
			"jobs": map[string]any{"steps": map[string]any{
				"runs-on": "ubuntu-24.04",
				"steps":   meta.Runs.Steps,
			}},
		}
		body, err := yaml.Marshal(wf)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		errs, err := newLinter(t, &out).Lint(filepath.Join(".github", "workflows", "action-"+a.Name+".yml"), body, proj)
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) > 0 {
			t.Errorf("actions/%s/action.yml steps:\n%s", a.Name, out.String())
		}

		fmt.Fprintf(&caller, "  %s:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: ./actions/%s\n", strings.ReplaceAll(a.Name, "-", "_"), a.Name)
		var with []string
		for _, in := range a.Inputs {
			if in.Required {
				with = append(with, fmt.Sprintf("          %s: x\n", in.Name))
			}
		}
		if len(with) > 0 {
			caller.WriteString("        with:\n" + strings.Join(with, ""))
		}
	}
	var out bytes.Buffer
	errs, err := newLinter(t, &out).Lint(filepath.Join(".github", "workflows", "call-actions.yml"), []byte(caller.String()), proj)
	if err != nil {
		t.Fatal(err)
	}
	report(t, errs, &out)
}
