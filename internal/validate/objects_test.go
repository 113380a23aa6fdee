package validate

import (
	"strings"
	"testing"
)

func TestExpandDocsDamagedLists(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		objs      int
		finding   string // "" for none
		line      int
	}{
		{"empty List", "apiVersion: v1\nkind: List\nitems: []\n", 0, "", 0},
		{"List without items", "apiVersion: v1\nkind: List\n", 0, "", 0},
		{"items not a list", "apiVersion: v1\nkind: List\nitems:\n  a: b\n", 0, "List items is not a list", 3},
		{"item not an object", "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n  - just text\n", 0, "List item 1 is not an object", 6},
		{"v1 List item without type", "apiVersion: v1\nkind: List\nitems:\n  - metadata: {name: x}\n    data: {a: b}\n", 0, "List item has neither apiVersion nor kind", 4},
		{"v1 List item with kind only", "apiVersion: v1\nkind: List\nitems:\n  - kind: ConfigMap\n    metadata: {name: x}\n", 0, "has kind ConfigMap but no apiVersion", 4},
		{"nested lists", "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: List\n    items:\n      - apiVersion: v1\n        kind: ConfigMap\n        metadata: {name: x}\n", 1, "", 0},
		{"kind ending in List without items is an object", "apiVersion: example.com/v1\nkind: AllowList\nspec: {}\n", 1, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, pf := parseDocs("l.yaml", []byte(tc.src), 0)
			if len(pf) > 0 {
				t.Fatal(pf)
			}
			objs, _, fs := expandDocs(docs)
			if len(objs) != tc.objs {
				t.Errorf("%d objects, want %d", len(objs), tc.objs)
			}
			switch {
			case tc.finding == "" && len(fs) > 0:
				t.Errorf("unexpected findings %v", fs)
			case tc.finding != "" && (len(fs) != 1 || !strings.Contains(fs[0].Message, tc.finding) || fs[0].Line != tc.line || fs[0].Rule != RuleNotResource):
				t.Errorf("findings %v, want one %s at line %d containing %q", fs, RuleNotResource, tc.line, tc.finding)
			}
		})
	}
}
