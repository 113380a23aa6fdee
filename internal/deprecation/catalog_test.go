package deprecation_test

import (
	"testing"

	"github.com/gitops-actions/gitops-actions/internal/deprecation"
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
	tab, err := deprecation.Table()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range cat.Versions {
		st, a := deprecation.Check(v.APIVersion, v.Kind, "1.30")
		switch {
		case a.Project != v.Project:
			t.Errorf("%s %s: the catalog's %s CRDs flag it (served %v), the table has no entry", v.APIVersion, v.Kind, v.Project, v.Served)
		case !v.Served && st != deprecation.Removed:
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
		want             deprecation.Status
	}{
		{"source.toolkit.fluxcd.io/v1beta2", "GitRepository", deprecation.Removed},
		{"helm.toolkit.fluxcd.io/v2beta1", "HelmRelease", deprecation.Removed},
		{"cert-manager.io/v1alpha2", "Certificate", deprecation.Removed},
		{"external-secrets.io/v1beta1", "ExternalSecret", deprecation.Removed},
		{"external-secrets.io/v1alpha1", "SecretStore", deprecation.Removed},
		{"gateway.networking.k8s.io/v1alpha2", "TCPRoute", deprecation.Deprecated},
		{"source.toolkit.fluxcd.io/v1", "GitRepository", deprecation.Current},
	} {
		if got, _ := deprecation.Check(tc.apiVersion, tc.kind, "1.37"); got != tc.want {
			t.Errorf("deprecation.Check(%s %s) = %v, want %v", tc.apiVersion, tc.kind, got, tc.want)
		}
	}
}
