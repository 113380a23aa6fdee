package scripts

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var (
	pinnedUses  = regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)
	versionNote = regexp.MustCompile(`#\s*v\d`)
)

type workflowFile struct {
	path string
	raw  string
	doc  map[string]any
}

func workflowFiles(t *testing.T) []workflowFile {
	t.Helper()
	var paths []string
	for _, pattern := range []string{".github/workflows/*.y*ml", "examples/*/.github/workflows/*.y*ml", "actions/*/action.yml"} {
		m, _ := filepath.Glob(filepath.Join(repoRoot, pattern))
		paths = append(paths, m...)
	}
	var out []workflowFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		rel, _ := filepath.Rel(repoRoot, p)
		out = append(out, workflowFile{path: filepath.ToSlash(rel), raw: string(b), doc: doc})
	}
	return out
}

// steps returns every step and job-level uses of a workflow or composite action.
func stepsOf(doc map[string]any) (steps []map[string]any, jobs map[string]map[string]any) {
	jobs = map[string]map[string]any{}
	if runs, ok := doc["runs"].(map[string]any); ok {
		for _, s := range asList(runs["steps"]) {
			if m, ok := s.(map[string]any); ok {
				steps = append(steps, m)
			}
		}
	}
	if js, ok := doc["jobs"].(map[string]any); ok {
		for name, j := range js {
			jm, _ := j.(map[string]any)
			jobs[name] = jm
			for _, s := range asList(jm["steps"]) {
				if m, ok := s.(map[string]any); ok {
					steps = append(steps, m)
				}
			}
		}
	}
	return steps, jobs
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// The supply-chain rules for every workflow and action.yml: third-party
// actions pinned by full SHA with the version in a comment, permissions
// declared per job, no untrusted text interpolated into scripts, no
// pull_request_target checking out the PR head.
func TestWorkflowHygiene(t *testing.T) {
	files := workflowFiles(t)
	if len(files) < 8 {
		t.Fatalf("found only %d workflow/action files", len(files))
	}
	for _, f := range files {
		steps, jobs := stepsOf(f.doc)
		var uses []string
		for _, s := range steps {
			if u, ok := s["uses"].(string); ok {
				uses = append(uses, u)
			}
			if run, ok := s["run"].(string); ok && strings.Contains(run, "${{") {
				t.Errorf("%s: a run: script interpolates an expression; pass it through env: instead:\n%s", f.path, run)
			}
		}
		for name, j := range jobs {
			if _, ok := j["permissions"]; !ok {
				t.Errorf("%s: job %s declares no permissions:", f.path, name)
			}
			if u, ok := j["uses"].(string); ok {
				uses = append(uses, u)
			}
		}
		for _, u := range uses {
			switch {
			case strings.HasPrefix(u, "./"):
				// This toolkit's own actions, at the checked-out commit.
			case strings.HasPrefix(f.path, "examples/") && strings.HasPrefix(u, "gitops-actions/gitops-actions/"):
				// The examples show callers of this toolkit; they say to pin a release SHA.
			case !pinnedUses.MatchString(u):
				t.Errorf("%s: uses: %s is not pinned to a full commit SHA", f.path, u)
			default:
				line := lineWith(f.raw, u)
				if !versionNote.MatchString(line) {
					t.Errorf("%s: %q carries no version comment", f.path, line)
				}
			}
		}
		if on, ok := f.doc["on"].(map[string]any); ok {
			if _, prt := on["pull_request_target"]; prt && strings.Contains(f.raw, "github.event.pull_request.head") {
				t.Errorf("%s: pull_request_target checks out the pull request's head", f.path)
			}
		}
		if _, isWorkflow := f.doc["jobs"]; isWorkflow {
			if p, ok := f.doc["permissions"].(map[string]any); !ok || len(p) != 1 || p["contents"] != "read" {
				t.Errorf("%s: top-level permissions must be exactly contents: read, got %v", f.path, f.doc["permissions"])
			}
		}
	}
}

func lineWith(raw, s string) string {
	for _, l := range strings.Split(raw, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// The examples are what teams copy: each caller file stays small.
func TestExampleCallersAreSmall(t *testing.T) {
	m, _ := filepath.Glob(filepath.Join(repoRoot, "examples", "*", ".github", "workflows", "*.yml"))
	if len(m) < 2 {
		t.Fatalf("expected caller workflows in examples/code-repo and examples/config-repo, found %v", m)
	}
	for _, p := range m {
		b, _ := os.ReadFile(p)
		if n := strings.Count(string(b), "\n"); n > 30 {
			t.Errorf("%s has %d lines; a caller file stays within 30", p, n)
		}
	}
}
