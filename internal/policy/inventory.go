package policy

import (
	"maps"
	"strings"
)

// DefaultNamespace is where a namespaced object without
// metadata.namespace lands when applied, and where Gatekeeper sees it.
const DefaultNamespace = "default"

// clusterScoped are the built-in kinds that live outside namespaces, by
// API group ("" is the core group).
var clusterScoped = map[string][]string{
	"":                             {"Namespace", "Node", "PersistentVolume", "ComponentStatus"},
	"rbac.authorization.k8s.io":    {"ClusterRole", "ClusterRoleBinding"},
	"apiextensions.k8s.io":         {"CustomResourceDefinition"},
	"apiregistration.k8s.io":       {"APIService"},
	"storage.k8s.io":               {"StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "VolumeAttributesClass"},
	"networking.k8s.io":            {"IngressClass", "IPAddress", "ServiceCIDR"},
	"scheduling.k8s.io":            {"PriorityClass"},
	"node.k8s.io":                  {"RuntimeClass"},
	"admissionregistration.k8s.io": {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"},
	"certificates.k8s.io":          {"CertificateSigningRequest", "ClusterTrustBundle"},
	"flowcontrol.apiserver.k8s.io": {"FlowSchema", "PriorityLevelConfiguration"},
	"resource.k8s.io":              {"DeviceClass", "ResourceSlice"},
	"gateway.networking.k8s.io":    {"GatewayClass"},
	"templates.gatekeeper.sh":      {"ConstraintTemplate"},
	"external-secrets.io":          {"ClusterSecretStore", "ClusterExternalSecret"},
	"cert-manager.io":              {"ClusterIssuer"},
}

// Scope says which kinds are cluster-scoped: the built-in ones, every
// Gatekeeper constraint, and custom resources whose
// CustomResourceDefinition says scope: Cluster.
type Scope struct {
	crds map[string]bool // "group/Kind" of cluster-scoped custom resources
}

// NewScope adds the cluster-scoped kinds of these
// CustomResourceDefinitions to the built-in ones.
func NewScope(crds []map[string]any) Scope {
	s := Scope{crds: map[string]bool{}}
	for _, crd := range crds {
		if str(crd, "spec", "scope") == "Cluster" {
			s.crds[str(crd, "spec", "group")+"/"+str(crd, "spec", "names", "kind")] = true
		}
	}
	return s
}

// Cluster reports whether objects of apiVersion and kind are
// cluster-scoped.
func (s Scope) Cluster(apiVersion, kind string) bool {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group = ""
	}
	if group == "constraints.gatekeeper.sh" {
		return true
	}
	for _, k := range clusterScoped[group] {
		if k == kind {
			return true
		}
	}
	return s.crds[group+"/"+kind]
}

// placed is obj as the API server would store it: a namespaced object
// without a namespace gets DefaultNamespace (a copy; obj is not changed).
func (s Scope) placed(obj map[string]any) (map[string]any, string) {
	av, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if s.Cluster(av, kind) {
		return obj, ""
	}
	if ns := str(obj, "metadata", "namespace"); ns != "" {
		return obj, ns
	}
	md, _ := obj["metadata"].(map[string]any)
	md = maps.Clone(md)
	if md == nil {
		md = map[string]any{}
	}
	md["namespace"] = DefaultNamespace
	cp := maps.Clone(obj)
	cp["metadata"] = md
	return cp, DefaultNamespace
}

// Inventory is Gatekeeper's replicated data, which referential
// constraints read as data.inventory: cluster[groupVersion][kind][name]
// for cluster-scoped objects and
// namespace[namespace][groupVersion][kind][name] for namespaced ones.
// Offline, the objects being validated are the inventory: what the config
// repo will put in the cluster.
func (s Scope) Inventory(objs []map[string]any) map[string]any {
	cluster := map[string]any{}
	namespaced := map[string]any{}
	for _, o := range objs {
		av, _ := o["apiVersion"].(string)
		kind, _ := o["kind"].(string)
		name := str(o, "metadata", "name")
		if av == "" || kind == "" || name == "" {
			continue
		}
		p, ns := s.placed(o)
		root := cluster
		if ns != "" {
			root = child(namespaced, ns)
		}
		child(child(root, av), kind)[name] = p
	}
	return map[string]any{"cluster": cluster, "namespace": namespaced}
}

func child(m map[string]any, k string) map[string]any {
	c, ok := m[k].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[k] = c
	}
	return c
}
