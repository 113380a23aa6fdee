package validate

import (
	"slices"
	"testing"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/manifest"
)

func parse(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	m, err := manifest.Load()
	if err != nil {
		t.Fatal(err)
	}
	in, err := action.ParseInputs(m.Action("validate-config"), args, func(k string) string { return env[k] })
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
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		check func(Config) bool
		bad   bool
	}{
		{name: "defaults", check: func(c Config) bool {
			return slices.Equal(c.Paths, []string{"."}) && c.Strict && c.BuiltinPolicies && c.Render == "auto" &&
				c.FailOn == "error" && c.OutputFormat == "text" && c.RegoVersion == "v1" &&
				slices.Equal(c.PolicyNamespaces, []string{"main"}) && slices.Equal(c.SchemaLocations, []string{"default"})
		}},
		{name: "lists split on commas and newlines", args: []string{"--path", "a,b", "--disable-rules", "GA-X\nGA-Y"}, check: func(c Config) bool {
			return slices.Equal(c.Paths, []string{"a", "b"}) && slices.Equal(c.DisableRules, []string{"GA-X", "GA-Y"})
		}},
		{name: "env input", env: map[string]string{"INPUT_FAIL-ON": "warning", "INPUT_STRICT": "false"}, check: func(c Config) bool {
			return c.FailOn == "warning" && !c.Strict
		}},
		{name: "flag wins over env", args: []string{"--fail-on", "notice"}, env: map[string]string{"INPUT_FAIL-ON": "warning"}, check: func(c Config) bool {
			return c.FailOn == "notice"
		}},
		{name: "bad render", args: []string{"--render", "maybe"}, bad: true},
		{name: "bad output format", args: []string{"--output-format", "xml"}, bad: true},
		{name: "bad rego version", args: []string{"--rego-version", "v2"}, bad: true},
		{name: "policy timeout", check: func(c Config) bool { return c.PolicyTimeout == 10*time.Second }},
		{name: "policy timeout set", args: []string{"--policy-timeout", "90s"}, check: func(c Config) bool { return c.PolicyTimeout == 90*time.Second }},
		{name: "policy timeout 0", args: []string{"--policy-timeout", "0"}, bad: true},
		{name: "bad policy timeout", args: []string{"--policy-timeout", "soon"}, bad: true},
		{name: "render limit defaults", check: func(c Config) bool {
			return c.RenderMaxBytes == 64<<20 && c.RenderTimeout == time.Minute
		}},
		{name: "render limits", args: []string{"--render-max-bytes", "5Mi", "--render-timeout", "2m"}, env: map[string]string{"INPUT_RENDER-MAX-BYTES": "1G"}, check: func(c Config) bool {
			return c.RenderMaxBytes == 5<<20 && c.RenderTimeout == 2*time.Minute
		}},
		{name: "render-max-bytes in bytes and decimal units", env: map[string]string{"INPUT_RENDER-MAX-BYTES": "1500k"}, check: func(c Config) bool {
			return c.RenderMaxBytes == 1_500_000
		}},
		{name: "render-max-bytes zero", args: []string{"--render-max-bytes", "0"}, bad: true},
		{name: "render-max-bytes overflow", args: []string{"--render-max-bytes", "9223372036854775807Gi"}, bad: true},
		{name: "render-max-bytes unit only", args: []string{"--render-max-bytes", "Mi"}, bad: true},
		{name: "render-max-bytes negative", args: []string{"--render-max-bytes", "-1"}, bad: true},
		{name: "render-timeout zero", args: []string{"--render-timeout", "0"}, bad: true},
		{name: "render-timeout not a duration", args: []string{"--render-timeout", "soon"}, bad: true},
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
				t.Errorf("config = %+v", c)
			}
		})
	}
}

func TestDuplicateKeysAndLines(t *testing.T) {
	docs, fs := parseDocs("a.yaml", []byte("---\na: 1\nb:\n  c: 2\n  c: 3\n---\n---\nkind: X\napiVersion: v1\nspec:\n  list:\n    - x: 1\n"), 0)
	if len(fs) != 1 || fs[0].Line != 5 || fs[0].Message != `duplicate key "c" at b.c (first at line 4)` {
		t.Fatalf("findings = %v", fs)
	}
	if len(docs) != 2 || docs[1].Line != 8 || !docs[1].IsResource() || docs[0].IsResource() {
		t.Fatalf("docs = %+v", docs)
	}
	if _, line := docs[1].At([]string{"spec", "list", "0", "x"}); line != 12 {
		t.Errorf("line of spec.list[0].x = %d, want 12", line)
	}
	if v := docs[0].Object["b"].(map[string]any)["c"]; v != int64(3) {
		t.Errorf("duplicate key keeps %v, want the last value", v)
	}
}
