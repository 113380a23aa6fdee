package diffconfig

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

func parse(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	m, err := manifest.Load()
	if err != nil {
		t.Fatal(err)
	}
	in, err := action.ParseInputs(m.Action("diff-config"), args, func(k string) string { return env[k] })
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(in)
	if err == nil {
		err = in.Err()
	}
	return c, err
}

func TestParseConfig(t *testing.T) {
	texts := func(c Config) []string {
		var out []string
		for _, f := range c.IgnoreFields {
			out = append(out, f.text)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		check func(Config) bool
		bad   bool
	}{
		{name: "defaults", check: func(c Config) bool {
			return slices.Equal(c.Paths, []string{"."}) && c.HeadRef == "HEAD" && c.BaseRef == "" && c.MaxDiffLines == 200 &&
				c.OutputFormat == "markdown" && c.Validate && !c.Comment && slices.Equal(texts(c), DefaultIgnoreFields)
		}},
		{name: "env as the action passes it", env: map[string]string{"INPUT_IGNORE-FIELDS": DefaultIgnoreFields[0] + "\n" + DefaultIgnoreFields[1], "INPUT_BASE-REF": "main"},
			check: func(c Config) bool { return c.BaseRef == "main" && slices.Equal(texts(c), DefaultIgnoreFields[:2]) }},
		{name: "ignore-fields none", args: []string{"--ignore-fields", "none"}, check: func(c Config) bool { return len(c.IgnoreFields) == 0 }},
		{name: "paths", args: []string{"--path", "clusters, apps"}, check: func(c Config) bool { return slices.Equal(c.Paths, []string{"clusters", "apps"}) }},
		{name: "repo-path", env: map[string]string{"INPUT_REPO-PATH": "config"}, check: func(c Config) bool { return c.RepoPath == "config" && slices.Equal(c.Paths, []string{"."}) }},
		{name: "bad field path", args: []string{"--ignore-fields", `metadata.labels["x`}, bad: true},
		{name: "max-diff-lines 0", args: []string{"--max-diff-lines", "0"}, bad: true},
		{name: "comment without token", args: []string{"--comment"}, bad: true},
		{name: "comment with token", args: []string{"--comment", "--token", "t"}, check: func(c Config) bool { return c.Comment && c.Token == "t" }},
		{name: "bad format", args: []string{"--output-format", "sarif"}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, tc.args, tc.env)
			if tc.bad {
				if err == nil || action.CodeOf(err) != action.ExitUsage {
					t.Fatalf("want a usage error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestFieldPathDrop(t *testing.T) {
	obj := func() map[string]any {
		return map[string]any{"metadata": map[string]any{"labels": map[string]any{"helm.sh/chart": "a-1", "app": "a"}},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "env": []any{"x"}}, map[string]any{"name": "b", "env": []any{"z"}}}}}
	}
	for _, tc := range []struct{ path, want string }{
		{`metadata.labels["helm.sh/chart"]`, "metadata:\n  labels:\n    app: a\nspec:\n  containers:\n    - env:\n        - x\n      name: a\n    - env:\n        - z\n      name: b\n"},
		{`spec.containers[*].env`, "metadata:\n  labels:\n    app: a\n    helm.sh/chart: a-1\nspec:\n  containers:\n    - name: a\n    - name: b\n"},
		{`spec.containers[1].env`, "metadata:\n  labels:\n    app: a\n    helm.sh/chart: a-1\nspec:\n  containers:\n    - env:\n        - x\n      name: a\n    - name: b\n"},
	} {
		p, err := parseFieldPath(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := normalizer{ignore: []fieldPath{p}}.text(obj())
		if got != tc.want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.path, got, tc.want)
		}
	}
}

// TestCommentCutAtLimit: a diff larger than GitHub's comment limit keeps
// the head and whole units that fit, and says where the rest is.
func TestCommentCutAtLimit(t *testing.T) {
	res := &result{Base: "aaaaaaaaaaaaaaaa", Head: "bbbbbbbbbbbbbbbb"}
	big := strings.Repeat("+  line: of the object\n", 400)
	for i := range 20 {
		res.Units = append(res.Units, &unitDiff{unit: unit{Name: fmt.Sprintf("overlays/env-%02d", i), Kind: renderKustomize}, Added: 1,
			Changes: []change{{Resource: "ConfigMap web", Change: changeAdded, Diff: big}}})
	}
	head, sections := markdownDoc(res)
	body := fit(head, sections, commentLimit-512, "the job's step summary and the report-file")
	if n := utf8.RuneCountInString(body); n > commentLimit {
		t.Fatalf("body has %d characters, over %d", n, commentLimit)
	}
	if !strings.HasPrefix(body, marker) || !strings.Contains(body, "| overlays/env-19 |") {
		t.Error("the head with every unit's row is not kept")
	}
	if strings.Count(body, "<details>") != strings.Count(body, "</details>") {
		t.Error("a unit section was cut in the middle")
	}
	if !strings.Contains(body, "more unit(s) do not fit") || !strings.Contains(body, "step summary") {
		t.Errorf("no note on what was cut:\n%s", body[len(body)-300:])
	}
	if whole := head + strings.Join(sections, ""); len(whole) <= commentLimit {
		t.Fatalf("the test diff (%d) is not over the limit", len(whole))
	}
}
