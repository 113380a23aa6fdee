package deprecation

import "testing"

func TestCheck(t *testing.T) {
	tab, err := Table()
	if err != nil || len(tab) < 50 {
		t.Fatalf("table: %d entries, %v", len(tab), err)
	}
	for _, tc := range []struct {
		apiVersion, kind, minor string
		want                    Status
	}{
		{"policy/v1beta1", "PodDisruptionBudget", "1.20", Current},
		{"policy/v1beta1", "PodDisruptionBudget", "1.21", Deprecated},
		{"policy/v1beta1", "PodDisruptionBudget", "1.25", Removed},
		{"flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.33", Removed},
		{"v1", "Endpoints", "1.33", Deprecated},
		{"apps/v1", "Deployment", "1.33", Current},
		{"admissionregistration.k8s.io/v1alpha1", "InitializerConfiguration", "1.16", Removed},
		{"settings.k8s.io/v1alpha1", "PodPreset", "1.19", Current},
		{"settings.k8s.io/v1alpha1", "PodPreset", "1.20", Removed},
	} {
		if got, _ := Check(tc.apiVersion, tc.kind, tc.minor); got != tc.want {
			t.Errorf("Check(%s %s, %s) = %v, want %v", tc.apiVersion, tc.kind, tc.minor, got, tc.want)
		}
	}
	for k, a := range tab {
		if a.Deprecated == "" && a.Removed == "" {
			t.Errorf("%s has neither deprecated nor removed", k)
		}
	}
}
