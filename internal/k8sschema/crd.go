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
	versions, err := crdVersionSchemas(crd)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]any, len(versions))
	for _, v := range versions {
		s, err := deepCopy(v.schema)
		if err != nil {
			return nil, fmt.Errorf("copying schema of %s: %w", v.key, err)
		}
		StripDocs(s)
		addObjectFields(s)
		out[v.key] = s
	}
	return out, nil
}

// CRDKeys are the keys FromCRD gives a CustomResourceDefinition's
// schemas, found without copying them, with the same error.
func CRDKeys(crd map[string]any) ([]string, error) {
	versions, err := crdVersionSchemas(crd)
	keys := make([]string, len(versions))
	for i, v := range versions {
		keys[i] = v.key
	}
	return keys, err
}

type versionSchema struct {
	key    string
	schema map[string]any
}

// crdVersionSchemas lists each version of a CRD with the schema it
// publishes, as it is in crd.
func crdVersionSchemas(crd map[string]any) ([]versionSchema, error) {
	spec, _ := crd["spec"].(map[string]any)
	group, _ := spec["group"].(string)
	names, _ := spec["names"].(map[string]any)
	kind, _ := names["kind"].(string)
	if group == "" || kind == "" {
		return nil, fmt.Errorf("CustomResourceDefinition has no spec.group or spec.names.kind")
	}
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
	var out []versionSchema
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
		out = append(out, versionSchema{key: Key(group+"/"+name, kind), schema: schema})
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
