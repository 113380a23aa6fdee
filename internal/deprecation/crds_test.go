package deprecation

import "testing"

func TestParseExtra(t *testing.T) {
	extra, err := ParseExtra([]byte(`deprecated-versions:
  - {version: example.com/v1beta1, kind: Widget, deprecated-in: v1.2.0, removed-in: v1.5.0, replacement-api: example.com/v1, component: widget-operator}
  - {version: example.com/v1, kind: Gadget, deprecated-in: v1.2.0, component: widget-operator}
  - {version: apps/v1, kind: Deployment, deprecated-in: v1.30.0, removed-in: v1.40.0, replacement-api: apps/v2}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		apiVersion, kind, minor string
		want                    Status
	}{
		{"example.com/v1beta1", "Widget", "1.30", Removed},
		{"example.com/v1", "Gadget", "1.30", Deprecated},
		{"apps/v1", "Deployment", "1.29", Current},
		{"apps/v1", "Deployment", "1.33", Deprecated},
		{"apps/v1", "Deployment", "1.40", Removed},
		// The embedded tables still answer for what the file leaves out.
		{"batch/v1beta1", "CronJob", "1.30", Removed},
	} {
		if got, _ := CheckWith(extra, tc.apiVersion, tc.kind, tc.minor); got != tc.want {
			t.Errorf("CheckWith(%s %s, %s) = %v, want %v", tc.apiVersion, tc.kind, tc.minor, got, tc.want)
		}
	}
	for _, bad := range []string{
		``,
		`deprecated-versions: []`,
		`deprecated-versions: [{version: a/v1, kind: A, removedin: v1.2.0}]`,
		`deprecated-versions: [{version: a/v1, kind: A}]`,
		`deprecated-versions: [{kind: A, removed-in: v1.25.0}]`,
		`deprecated-versions: [{version: a/v1, kind: A, removed-in: v2.3.0}]`,
		`deprecated-versions: [{version: a/v1, kind: A, removed-in: v1.25.0}, {version: a/v1, kind: A, removed-in: v1.26.0}]`,
		`deprecated-versions: {version: a/v1}`,
	} {
		if _, err := ParseExtra([]byte(bad)); err == nil {
			t.Errorf("ParseExtra accepted %q", bad)
		}
	}
}
