package policy

import (
	"testing"

	"sigs.k8s.io/yaml"
)

func objects(t *testing.T, docs ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// The inventory has Gatekeeper's shape; a CRD's scope: Cluster puts its
// objects under cluster, and a namespaced object without a namespace is
// filed, and reviewed, in default.
func TestInventory(t *testing.T) {
	crds := objects(t, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: tenants.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Tenant, plural: tenants}
`, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
`)
	scope := NewScope(crds)
	objs := objects(t,
		"{apiVersion: example.com/v1, kind: Tenant, metadata: {name: acme}}",
		"{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, namespace: shop}}",
		"{apiVersion: v1, kind: ConfigMap, metadata: {name: loose}}",
		"{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: reader}}",
		"{apiVersion: v1, kind: ConfigMap}",
	)
	inv := scope.Inventory(objs)
	for _, path := range [][]string{
		{"cluster", "example.com/v1", "Tenant", "acme"},
		{"cluster", "rbac.authorization.k8s.io/v1", "ClusterRole", "reader"},
		{"namespace", "shop", "example.com/v1", "Widget", "w"},
		{"namespace", "default", "v1", "ConfigMap", "loose"},
	} {
		if Field(inv, path...) == nil {
			t.Errorf("inventory lacks %v: %v", path, inv)
		}
	}
	if got := Field(inv, "namespace", "default", "v1", "ConfigMap", "loose", "metadata", "namespace"); got != "default" {
		t.Errorf("the defaulted ConfigMap's namespace in the inventory is %v", got)
	}
	if _, ok := Field(objs[2], "metadata").(map[string]any)["namespace"]; ok {
		t.Error("Inventory changed the caller's object")
	}
	if Field(inv, "namespace", "default", "v1", "ConfigMap", "") != nil {
		t.Error("an object without a name went into the inventory")
	}
	if !scope.Cluster("constraints.gatekeeper.sh/v1beta1", "K8sAnything") || scope.Cluster("example.com/v1", "Widget") || !scope.Cluster("v1", "Namespace") {
		t.Error("Cluster scope of constraints, namespaced CRDs or Namespace is wrong")
	}
}
