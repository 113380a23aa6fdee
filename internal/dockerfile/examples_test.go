package dockerfile

import (
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/report"
)

// The examples teach the rules, so they must pass them: the Go service
// without a single finding, the Rails image with only the warning that a
// Ruby app cannot avoid (it needs a Ruby runtime, not a static base).
func TestExamplesPass(t *testing.T) {
	for dir, allowed := range map[string][]string{
		"../../examples/code-repo": nil,
		// The toolkit's own image (release issue): zero findings.
		"../..":                nil,
		"../../examples/rails": {RuleFinalNotMinimal},
	} {
		fs, err := LintFile(dir, "Dockerfile", Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			ok := f.Severity != report.Error
			if ok {
				ok = false
				for _, r := range allowed {
					ok = ok || f.Rule == r
				}
			}
			if !ok {
				t.Errorf("%s: %s", dir, f)
			}
		}
	}
}
