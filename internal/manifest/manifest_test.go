package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-actions/gitops-actions/actions"
)

// A hand edit of a generated action.yml, or a manifest change without
// `go generate ./actions`, fails here.
func TestCommittedActionYAMLIsGenerated(t *testing.T) {
	m, err := Parse(actions.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Actions {
		a := &m.Actions[i]
		path := filepath.Join("..", "..", "actions", a.Name, "action.yml")
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run go generate ./actions)", a.Name, err)
			continue
		}
		if want := ActionYAML(a); string(got) != string(want) {
			t.Errorf("%s differs from the generator's output; edit actions/actions.yaml and run go generate ./actions", path)
		}
		if !strings.HasPrefix(string(got), "# Code generated") || !strings.Contains(strings.SplitN(string(got), "\n", 2)[0], "DO NOT EDIT.") {
			t.Errorf("%s lacks the generated-code header", path)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "actions", "*", "action.yml"))
	if len(dirs) != len(m.Actions) {
		t.Errorf("%d action.yml files for %d manifest actions: remove stale ones", len(dirs), len(m.Actions))
	}
}

func TestActionYAMLPassesEveryInputAsEnv(t *testing.T) {
	m, _ := Load()
	for i := range m.Actions {
		a := &m.Actions[i]
		y := string(ActionYAML(a))
		for _, in := range a.Inputs {
			want := "        " + envName(in.Name) + ": ${{ inputs." + in.Name + " }}\n"
			if !strings.Contains(y, want) {
				t.Errorf("%s: input %s is not passed as %s", a.Name, in.Name, envName(in.Name))
			}
		}
		for _, o := range a.Outputs {
			if !strings.Contains(y, "value: ${{ steps.run.outputs."+o.Name+" }}") {
				t.Errorf("%s: output %s is not mapped", a.Name, o.Name)
			}
		}
		if !strings.Contains(y, "using: composite") || !strings.Contains(y, SetupGo) || !strings.Contains(y, "./cmd/"+a.Name) {
			t.Errorf("%s: not a composite action building cmd/%s with a pinned setup-go", a.Name, a.Name)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown key":     "actions: [{name: a, bogus: 1}]",
		"no report-file":  "actions: [{name: a, inputs: [{name: x, description: d}]}]",
		"duplicate input": "actions: [{name: a, inputs: [{name: report-file, description: d}, {name: report-file, description: d}]}]",
		"bad type":        "actions: [{name: a, inputs: [{name: report-file, type: float, description: d}]}]",
		"max on a string": "actions: [{name: a, inputs: [{name: report-file, description: d}, {name: x, max: 3, description: d}]}]",
		"negative max":    "actions: [{name: a, inputs: [{name: report-file, description: d}, {name: x, type: int, max: -1, description: d}]}]",
		"duplicate name":  "actions: [{name: a, inputs: [{name: report-file, description: d}]}, {name: a, inputs: [{name: report-file, description: d}]}]",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: Parse accepted %s", name, doc)
		}
	}
}

func TestReadmeReferenceIsGenerated(t *testing.T) {
	m, _ := Load()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := SpliceReadme(readme, m)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(readme) {
		t.Error("README.md's actions reference is stale: run go generate ./actions")
	}
	for _, a := range m.Actions {
		for _, in := range a.Inputs {
			if !strings.Contains(string(readme), "| `"+in.Name+"` |") {
				t.Errorf("README lacks input %s of %s", in.Name, a.Name)
			}
		}
	}
}

// The scan action caches trivy's database per day and falls back to the
// previous day's; other actions carry no such step.
func TestVulnDBCacheStep(t *testing.T) {
	m, _ := Load()
	for i := range m.Actions {
		a := &m.Actions[i]
		y := string(ActionYAML(a))
		has := strings.Contains(y, ActionCache)
		if has != a.CacheVulnDB {
			t.Errorf("%s: cache step present %t, cache-vuln-db %t", a.Name, has, a.CacheVulnDB)
		}
		if !a.CacheVulnDB {
			continue
		}
		for _, want := range []string{
			"path: ${{ steps.vulndb.outputs.dir }}/db",
			"key: gitops-actions-vulndb-${{ runner.os }}-${{ steps.vulndb.outputs.today }}",
			"gitops-actions-vulndb-${{ runner.os }}-${{ steps.vulndb.outputs.yesterday }}",
			"CACHE_DIR: ${{ inputs.cache-dir }}",
		} {
			if !strings.Contains(y, want) {
				t.Errorf("%s: cache step lacks %q", a.Name, want)
			}
		}
		if strings.Index(y, ActionCache) > strings.Index(y, "id: run") {
			t.Errorf("%s: the cache must be restored before the scan runs", a.Name)
		}
	}
	if m.Action("scan") == nil || !m.Action("scan").CacheVulnDB {
		t.Error("scan must cache its vulnerability database")
	}
}
