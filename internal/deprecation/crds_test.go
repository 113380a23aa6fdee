package deprecation

import (
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/k8sschema"
)

// The CRD table must agree with the embedded catalog: every version its
// CRDs mark deprecated or no longer serve is listed, a removed one has no
// embedded schema, and each replacement has one.
func TestCRDTableFollowsCatalog(t *testing.T) {
	cat, err := k8sschema.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Table()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range cat.Versions {
		st, a := Check(v.APIVersion, v.Kind, "1.30")
		switch {
		case a.Project != v.Project:
			t.Errorf("%s %s: the catalog's %s CRDs flag it (served %v), the table has no entry", v.APIVersion, v.Kind, v.Project, v.Served)
		case !v.Served && st != Removed:
			t.Errorf("%s %s is no longer served by %s, the table says %v", v.APIVersion, v.Kind, v.Project, st)
		}
	}
	store := k8sschema.NewStore(k8sschema.Newest(), false)
	for key, a := range tab {
		if a.Project == "" {
			continue
		}
		if b, _ := store.Schema(a.APIVersion, a.Kind); a.Removed != "" && b != nil {
			t.Errorf("%s is removed in %s %s, but the embedded catalog serves it", key, a.Project, a.Removed)
		}
		if b, _ := store.Schema(a.Replacement, a.Kind); b == nil {
			t.Errorf("%s: replacement %s %s has no embedded schema", key, a.Replacement, a.Kind)
		}
	}
	for _, tc := range []struct {
		apiVersion, kind string
		want             Status
	}{
		{"source.toolkit.fluxcd.io/v1beta2", "GitRepository", Removed},
		{"helm.toolkit.fluxcd.io/v2beta1", "HelmRelease", Removed},
		{"cert-manager.io/v1alpha2", "Certificate", Removed},
		{"external-secrets.io/v1beta1", "ExternalSecret", Removed},
		{"external-secrets.io/v1alpha1", "SecretStore", Removed},
		{"gateway.networking.k8s.io/v1alpha2", "TCPRoute", Deprecated},
		{"source.toolkit.fluxcd.io/v1", "GitRepository", Current},
	} {
		if got, _ := Check(tc.apiVersion, tc.kind, "1.37"); got != tc.want {
			t.Errorf("Check(%s %s) = %v, want %v", tc.apiVersion, tc.kind, got, tc.want)
		}
	}
}

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
