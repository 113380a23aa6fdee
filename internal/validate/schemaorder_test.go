package validate

import "testing"

// The schema library lists unknown properties in map order; the same
// input must give the same report on every run.
func TestSortAdditional(t *testing.T) {
	for in, want := range map[string]string{
		"additional properties 'values', 'chart', 'interval' not allowed": "additional properties 'chart', 'interval', 'values' not allowed",
		"additional properties 'b', 'a' not allowed":                      "additional properties 'a', 'b' not allowed",
		"additional properties 'colour' not allowed":                      "additional properties 'colour' not allowed",
		"got string, want integer":                                        "got string, want integer",
	} {
		if got := sortAdditional(in); got != want {
			t.Errorf("sortAdditional(%q) = %q, want %q", in, got, want)
		}
	}
}
