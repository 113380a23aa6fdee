package policy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A policy that fills the heap in few steps (each concat doubles a
// string) is stopped by the memory watchdog long before its timeout, and
// only it is blamed: the policy evaluated beside it on other objects at
// the same time still gives its results.
func TestMemoryLimitBlamesOnlyTheCulprit(t *testing.T) {
	var b strings.Builder
	b.WriteString("package mem\n\ndeny contains \"never\" if {\n\ta0 := \"0123456789abcdef0123456789abcdef\"\n")
	for i := 1; i <= 27; i++ {
		fmt.Fprintf(&b, "\ta%d := concat(\"\", [a%d, a%d])\n", i, i-1, i-1)
	}
	b.WriteString("\tcount(a27) < 0\n}\n")
	mods := map[string]string{
		"policy/mem.rego": b.String(),
		"policy/ok.rego":  "package ok\n\ndeny contains sprintf(\"checked %s\", [input.name])\n",
	}
	ctx := context.Background()
	c, err := NewConftest(ctx, mods, map[string]any{}, []string{"mem", "ok"}, ast.RegoV1, NewLimits(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	results := make([][]Result, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			obj, err := Input(map[string]any{"name": fmt.Sprint("o", i)})
			if err != nil {
				t.Error(err)
				return
			}
			// Each object in its own unit, so each gets its finding.
			if results[i], err = c.Eval(ctx, obj, fmt.Sprint("unit", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took > 50*time.Second {
		t.Errorf("took %s: stopped by the timeout, not the memory limit", took)
	}
	for i, rs := range results {
		var got []string
		for _, r := range rs {
			got = append(got, r.Rule+": "+r.Message)
		}
		want := []string{
			RuleLimit + ": policy namespace mem (policy/mem.rego) was stopped: its evaluation used more than 256 MiB of memory; it is not run on the unit's other objects",
			fmt.Sprintf("ok.deny: checked o%d", i),
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("object %d:\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
