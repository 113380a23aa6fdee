package k8sschema

import (
	"slices"
	"testing"
)

// The APIs a target serves: current ones, less those removed by then,
// plus those removed later for an older target.
func TestBuiltinAPIs(t *testing.T) {
	for _, tc := range []struct {
		minor     string
		has, lack []string
	}{
		{"1.33", []string{"networking.k8s.io/v1/Ingress", "apps/v1/Deployment", "v1/Pod", "policy/v1/PodDisruptionBudget"},
			[]string{"extensions/v1beta1/Ingress", "policy/v1beta1/PodSecurityPolicy", "v1/PodList"}},
		{"1.21", []string{"networking.k8s.io/v1/Ingress", "extensions/v1beta1/Ingress", "policy/v1beta1/PodSecurityPolicy"}, nil},
	} {
		apis, err := BuiltinAPIs(tc.minor)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range tc.has {
			if !slices.Contains(apis, a) {
				t.Errorf("%s: %s missing", tc.minor, a)
			}
		}
		for _, a := range tc.lack {
			if slices.Contains(apis, a) {
				t.Errorf("%s: %s listed", tc.minor, a)
			}
		}
	}
}
