package k8sschema

import (
	"encoding/json"
	"fmt"
)

// Key names a schema by API group, version and kind: "apps/v1/Deployment",
// "v1/Pod" for the core group.
func Key(apiVersion, kind string) string { return apiVersion + "/" + kind }

// FromCRD turns a CustomResourceDefinition (apiextensions.k8s.io v1 or
// v1beta1, as a decoded object) into one standalone schema per served
// version, keyed by Key.
func FromCRD(crd map[string]any, strict bool) (map[string]map[string]any, error) {
	out, err := CRDSchemas(crd)
	for _, s := range out {
		Tighten(s, strict, true)
	}
	return out, err
}

// CRDSchemas is FromCRD before Tighten: the schemas as published, without
// their descriptions, with the object fields declared.
func CRDSchemas(crd map[string]any) (map[string]map[string]any, error) {
	spec, _ := crd["spec"].(map[string]any)
	group, _ := spec["group"].(string)
	names, _ := spec["names"].(map[string]any)
	kind, _ := names["kind"].(string)
	if group == "" || kind == "" {
		return nil, fmt.Errorf("CustomResourceDefinition has no spec.group or spec.names.kind")
	}
	out := map[string]map[string]any{}
	// v1beta1 CRDs may carry one schema for all versions.
	var common map[string]any
	if v, ok := spec["validation"].(map[string]any); ok {
		common, _ = v["openAPIV3Schema"].(map[string]any)
	}
	versions, _ := spec["versions"].([]any)
	if len(versions) == 0 {
		if v, ok := spec["version"].(string); ok {
			versions = []any{map[string]any{"name": v}}
		}
	}
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		name, _ := vm["name"].(string)
		if name == "" {
			continue
		}
		schema := common
		if s, ok := vm["schema"].(map[string]any); ok {
			if o, ok := s["openAPIV3Schema"].(map[string]any); ok {
				schema = o
			}
		}
		if schema == nil {
			// No schema published: anything the API server would store is valid.
			schema = map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
		}
		s, err := deepCopy(schema)
		if err != nil {
			return nil, fmt.Errorf("copying schema of %s/%s %s: %w", group, name, kind, err)
		}
		StripDocs(s)
		addObjectFields(s)
		out[Key(group+"/"+name, kind)] = s
	}
	return out, nil
}

// addObjectFields declares apiVersion, kind and metadata, which CRD
// schemas may leave out but every object has.
func addObjectFields(s map[string]any) {
	props, ok := s["properties"].(map[string]any)
	if !ok {
		return
	}
	for _, k := range []string{"apiVersion", "kind"} {
		if _, ok := props[k]; !ok {
			props[k] = map[string]any{"type": "string"}
		}
	}
	if _, ok := props["metadata"]; !ok {
		props["metadata"] = map[string]any{"type": "object"}
	}
}

func deepCopy(v map[string]any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	err = json.Unmarshal(b, &out)
	return out, err
}
