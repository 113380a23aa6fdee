package validate

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// aliasBomb is the "billion laughs" document: each list holds its
// predecessor nine times, so the last alias stands for 9^9 scalars while
// the text is well under 1 KB. Line 9 holds the outermost aliases.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a: &a [" + strings.TrimSuffix(strings.Repeat("lol,", 9), ",") + "]\n")
	for c := 'b'; c <= 'i'; c++ {
		alias := "*" + string(c-1) + ","
		fmt.Fprintf(&b, "%c: &%c [%s]\n", c, c, strings.TrimSuffix(strings.Repeat(alias, 9), ","))
	}
	return b.String()
}

// parseWithin fails the test instead of hanging when parsing runs away.
func parseWithin(t *testing.T, d time.Duration, file, src string) ([]*Doc, []string) {
	t.Helper()
	type result struct {
		docs []*Doc
		msgs []string
	}
	done := make(chan result, 1)
	go func() {
		docs, fs := parseDocs(file, []byte(src), 0)
		var msgs []string
		for _, f := range fs {
			msgs = append(msgs, f.String())
		}
		done <- result{docs, msgs}
	}()
	select {
	case r := <-done:
		return r.docs, r.msgs
	case <-time.After(d):
		t.Fatalf("parsing %s did not finish within %s", file, d)
		return nil, nil
	}
}

// An alias bomb is a syntax finding at the line of the alias whose
// expansion went past the allowance, and the documents after it are
// still read.
func TestAliasBombIsAFinding(t *testing.T) {
	bomb := aliasBomb()
	src := bomb + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n"
	if len(src) > 1024 {
		t.Fatalf("bomb is %d bytes, want under 1 KB", len(src))
	}
	docs, msgs := parseWithin(t, 10*time.Second, "bomb.yaml", src)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "excessive aliasing") {
		t.Fatalf("findings = %q, want one excessive aliasing finding", msgs)
	}
	var line int
	var alias string
	if _, err := fmt.Sscanf(msgs[0], "bomb.yaml:%d: error: excessive aliasing: the alias %s", &line, &alias); err != nil {
		t.Fatalf("finding %q: %v", msgs[0], err)
	}
	lines := strings.Split(bomb, "\n")
	if line < 2 || line > len(lines) || !strings.Contains(lines[line-1], alias+",") {
		t.Errorf("finding at line %d names %s, which that line does not hold:\n%s", line, alias, bomb)
	}
	if len(docs) != 1 || docs[0].Resource().Name != "after" {
		t.Fatalf("documents after the bomb = %+v", docs)
	}
}

// Anchors as config repos use them (shared labels, merge keys, a list
// reused a few times) decode to their expanded values.
func TestAliasesStillExpand(t *testing.T) {
	src := `labels: &labels {app: api, tier: web}
defaults: &defaults
  replicas: 2
  labels: *labels
ports: &ports [80, 443]
a: {<<: *defaults, name: a, ports: *ports}
b: {<<: [*defaults], name: b, replicas: 3, ports: *ports}
`
	docs, msgs := parseWithin(t, 10*time.Second, "anchors.yaml", src)
	if len(msgs) != 0 || len(docs) != 1 {
		t.Fatalf("findings = %q, docs = %d", msgs, len(docs))
	}
	a := docs[0].Object["a"].(map[string]any)
	b := docs[0].Object["b"].(map[string]any)
	if a["replicas"] != int64(2) || b["replicas"] != int64(3) || a["labels"].(map[string]any)["tier"] != "web" || len(b["ports"].([]any)) != 2 {
		t.Errorf("a = %v, b = %v", a, b)
	}
}
