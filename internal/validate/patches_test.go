package validate

import (
	"regexp"
	"testing"
)

// A patch's target narrows by kind, name (regexp, with a prefix or suffix
// added later), namespace and the equality terms of its labelSelector.
func TestPatchTargets(t *testing.T) {
	obj := map[string]any{"metadata": map[string]any{"name": "prod-api", "namespace": "shop", "labels": map[string]any{"app": "api", "tier": "web"}}}
	for _, tc := range []struct {
		p    patch
		want bool
	}{
		{patch{kind: "Deployment"}, true},
		{patch{kind: "StatefulSet"}, false},
		{patch{name: regexp.MustCompile("^api$")}, true},
		{patch{name: regexp.MustCompile("^(?:web)$")}, false},
		{patch{namespace: "shop"}, true},
		{patch{namespace: "blog"}, false},
		{patch{labels: equalityTerms("app=api, tier==web")}, true},
		{patch{labels: equalityTerms("app=worker")}, false},
		{patch{labels: equalityTerms("tier in (web,db),app!=x")}, true},
	} {
		if got := tc.p.targets("Deployment", "prod-api", obj); got != tc.want {
			t.Errorf("%+v targets prod-api: %v, want %v", tc.p, got, tc.want)
		}
	}
}
