package scripts

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var stepOutput = regexp.MustCompile(`^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$`)

// appTokenWith is every input a create-github-app-token step passes, by the
// v2+ names: client-id replaced app-id, permission-* narrow the token.
var appTokenWith = []string{"client-id", "owner", "permission-contents", "permission-pull-requests", "private-key", "repositories"}

// checkAppTokenStep says what is wrong with one job's
// create-github-app-token step at index i; "" when it is scoped to the
// config repository named by inputs.config-repository and narrowed to
// contents and pull requests.
func checkAppTokenStep(steps []map[string]any, i int) []string {
	var problems []string
	with, _ := steps[i]["with"].(map[string]any)
	keys := make([]string, 0, len(with))
	for k := range with {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, appTokenWith) {
		problems = append(problems, fmt.Sprintf("with: has %v, want exactly %v", keys, appTokenWith))
	}
	for k, want := range map[string]string{"permission-contents": "write", "permission-pull-requests": "write"} {
		if with[k] != want {
			problems = append(problems, fmt.Sprintf("%s is %v, want %s", k, with[k], want))
		}
	}
	for k, output := range map[string]string{"owner": "owner", "repositories": "name"} {
		v, _ := with[k].(string)
		m := stepOutput.FindStringSubmatch(v)
		if m == nil || m[2] != output {
			problems = append(problems, fmt.Sprintf("%s is %q, want ${{ steps.<id>.outputs.%s }} split from inputs.config-repository", k, v, output))
			continue
		}
		j := slices.IndexFunc(steps[:i], func(s map[string]any) bool { return s["id"] == m[1] })
		if j < 0 {
			problems = append(problems, fmt.Sprintf("%s: no earlier step has id %s", k, m[1]))
			continue
		}
		env, _ := steps[j]["env"].(map[string]any)
		fromInput := false
		for _, e := range env {
			if s, ok := e.(string); ok && strings.Contains(s, "inputs.config-repository") {
				fromInput = true
			}
		}
		run, _ := steps[j]["run"].(string)
		if !fromInput || run == "" || strings.Contains(run, "${{") {
			problems = append(problems, fmt.Sprintf("step %s must read inputs.config-repository through env: and split it in its run: script", m[1]))
		}
	}
	return problems
}

func jobSteps(job map[string]any) []map[string]any {
	var steps []map[string]any
	for _, s := range asList(job["steps"]) {
		if m, ok := s.(map[string]any); ok {
			steps = append(steps, m)
		}
	}
	return steps
}

// A GitHub App token written to the config repo covers that repository
// alone and only what a bump needs: without owner/repositories it would
// cover just the calling repository (so promoting into another
// config-repository fails), without permission-* all the App may do.
func TestAppTokensScopedToConfigRepo(t *testing.T) {
	found := map[string]int{}
	for _, f := range workflowFiles(t) {
		js, _ := f.doc["jobs"].(map[string]any)
		for name, j := range js {
			job, _ := j.(map[string]any)
			steps := jobSteps(job)
			for i, s := range steps {
				u, _ := s["uses"].(string)
				if !strings.HasPrefix(u, "actions/create-github-app-token@") {
					continue
				}
				found[f.path]++
				for _, p := range checkAppTokenStep(steps, i) {
					t.Errorf("%s: job %s: create-github-app-token: %s", f.path, name, p)
				}
			}
		}
	}
	for _, want := range []string{".github/workflows/promote.yml", ".github/workflows/gitops-code.yml"} {
		if found[want] == 0 {
			t.Errorf("%s: no create-github-app-token step found", want)
		}
	}
}

// promote.yml hands the scoped token to bump-manifest for the same
// repository the token was minted for.
func TestPromoteUsesScopedToken(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, ".github/workflows/promote.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Jobs map[string]map[string]any `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	steps := jobSteps(doc.Jobs["promote"])
	tok := slices.IndexFunc(steps, func(s map[string]any) bool {
		u, _ := s["uses"].(string)
		return strings.HasPrefix(u, "actions/create-github-app-token@")
	})
	bump := slices.IndexFunc(steps, func(s map[string]any) bool {
		u, _ := s["uses"].(string)
		return strings.HasSuffix(u, "/actions/bump-manifest")
	})
	if tok < 0 || bump < tok {
		t.Fatalf("promote job: want a create-github-app-token step before bump-manifest, got steps %v", steps)
	}
	id, _ := steps[tok]["id"].(string)
	with, _ := steps[bump]["with"].(map[string]any)
	token, _ := with["token"].(string)
	if id == "" || !strings.Contains(token, "steps."+id+".outputs.token") {
		t.Errorf("bump-manifest token is %q; want the App token of step %q first", token, id)
	}
	if repo, _ := with["repository"].(string); !strings.Contains(repo, "inputs.config-repository") {
		t.Errorf("bump-manifest repository is %q; want inputs.config-repository, the repository the token covers", repo)
	}
}

// The check above refuses the step promote.yml had: no owner, no
// repositories, no permission-*, the deprecated app-id.
func TestAppTokenCheckRefusesUnscoped(t *testing.T) {
	var doc map[string]any
	src := `
jobs:
  promote:
    steps:
      - id: app-token
        uses: actions/create-github-app-token@0000000000000000000000000000000000000000 # v1.12.0
        with:
          app-id: ${{ inputs.app-id }}
          private-key: ${{ secrets.app-private-key }}
`
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	steps := jobSteps(doc["jobs"].(map[string]any)["promote"].(map[string]any))
	got := strings.Join(checkAppTokenStep(steps, 0), "\n")
	for _, want := range []string{"want exactly", "permission-contents is <nil>", "permission-pull-requests is <nil>", `owner is ""`, `repositories is ""`} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q do not name %q", got, want)
		}
	}
	// A split step that interpolates the input into its script is refused too.
	src = `
jobs:
  promote:
    steps:
      - id: repo
        run: echo "owner=${{ inputs.config-repository }}" >> "$GITHUB_OUTPUT"
      - uses: actions/create-github-app-token@0000000000000000000000000000000000000000 # v3.1.1
        with:
          client-id: x
          private-key: x
          owner: ${{ steps.repo.outputs.owner }}
          repositories: ${{ steps.repo.outputs.name }}
          permission-contents: write
          permission-pull-requests: write
`
	doc = nil
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	steps = jobSteps(doc["jobs"].(map[string]any)["promote"].(map[string]any))
	if got := checkAppTokenStep(steps, 1); len(got) != 2 || !strings.Contains(got[0], "through env:") {
		t.Errorf("got %q, want owner and repositories refused for a split step without env:", got)
	}
}
