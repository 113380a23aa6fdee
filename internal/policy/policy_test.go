package policy

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

func TestSelectorMatches(t *testing.T) {
	labels := map[string]any{"app": "web", "tier": "front"}
	for _, tc := range []struct {
		sel  map[string]any
		want bool
	}{
		{map[string]any{}, true},
		{map[string]any{"matchLabels": map[string]any{"app": "web"}}, true},
		{map[string]any{"matchLabels": map[string]any{"app": "db"}}, false},
		{map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "In", "values": []any{"front", "back"}}}}, true},
		{map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "NotIn", "values": []any{"front"}}}}, false},
		{map[string]any{"matchExpressions": []any{map[string]any{"key": "zone", "operator": "Exists"}}}, false},
		{map[string]any{"matchExpressions": []any{map[string]any{"key": "zone", "operator": "DoesNotExist"}}}, true},
	} {
		if got := SelectorMatches(tc.sel, labels); got != tc.want {
			t.Errorf("SelectorMatches(%v) = %v", tc.sel, got)
		}
	}
}

// Every built-in rule has a doc line and fires from the embedded Rego.
func TestBuiltinRulesDocumentedAndLive(t *testing.T) {
	b, err := NewBuiltin(context.Background(), NewLimits(0))
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"}, "data": map[string]any{"k": "dg=="}}
	in, err := Input(obj)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := b.Eval(context.Background(), in, "Secret", nil, "")
	if err != nil || len(rs) != 1 || rs[0].Rule != "GA-PLAINTEXT-SECRET" || rs[0].Path[0] != "data" {
		t.Fatalf("Eval = %+v, %v", rs, err)
	}
	documented := map[string]bool{}
	for _, r := range BuiltinRules {
		documented[r.ID] = true
		if r.Doc == "" || r.Severity == "" {
			t.Errorf("%s has no doc or severity", r.ID)
		}
		if !strings.Contains(builtinRego, `"rule": "`+r.ID+`"`) {
			t.Errorf("%s is documented but not in builtin.rego", r.ID)
		}
	}
	for _, m := range regexp.MustCompile(`"rule": "(GA-[A-Z-]+)"`).FindAllStringSubmatch(builtinRego, -1) {
		if !documented[m[1]] {
			t.Errorf("builtin.rego reports %s, which has no doc line", m[1])
		}
	}
}
