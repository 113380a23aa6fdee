package k8sschema

import "strings"

// refPrefix is how OpenAPI v2 definitions point at each other.
const refPrefix = "#/definitions/"

// Standalone expands every $ref of the definition name into one schema
// that needs no other document, the form kubeconform's standalone schemas
// have. A reference cycle (JSONSchemaProps refers to itself) becomes an
// open schema at the point where it recurs.
func Standalone(defs map[string]any, name string, strict bool) map[string]any {
	s := expand(defs, map[string]any{"$ref": refPrefix + name}, map[string]bool{}).(map[string]any)
	Tighten(s, strict, true)
	return s
}

func expand(defs map[string]any, v any, stack map[string]bool) any {
	switch t := v.(type) {
	case map[string]any:
		if ref, ok := t["$ref"].(string); ok && strings.HasPrefix(ref, refPrefix) {
			name := strings.TrimPrefix(ref, refPrefix)
			def, ok := defs[name]
			if !ok || stack[name] {
				return map[string]any{}
			}
			stack[name] = true
			out := expand(defs, def, stack)
			delete(stack, name)
			return out
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = expand(defs, e, stack)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = expand(defs, e, stack)
		}
		return out
	}
	return v
}

// Tighten rewrites a schema in place the way kubeconform's strict
// schemas are written: objects that list their properties reject others
// (unless they preserve unknown fields), int-or-string and quantities
// accept both forms, and fields that are not the root accept null, as the
// API server does for omitted values.
func Tighten(s map[string]any, strict, root bool) {
	if s["x-kubernetes-int-or-string"] == true || s["format"] == "int-or-string" {
		delete(s, "format")
		s["type"] = []any{"integer", "string"}
	}
	if s["nullable"] == true {
		delete(s, "nullable")
		addNull(s)
	} else if !root {
		addNull(s)
	}
	props, hasProps := s["properties"].(map[string]any)
	if strict && hasProps && s["additionalProperties"] == nil && s["x-kubernetes-preserve-unknown-fields"] != true {
		if s["x-kubernetes-embedded-resource"] == true {
			for _, k := range []string{"apiVersion", "kind"} {
				if _, ok := props[k]; !ok {
					props[k] = map[string]any{"type": "string"}
				}
			}
			if _, ok := props["metadata"]; !ok {
				props["metadata"] = map[string]any{"type": "object"}
			}
		}
		s["additionalProperties"] = false
	}
	for _, p := range props {
		if m, ok := p.(map[string]any); ok {
			Tighten(m, strict, false)
		}
	}
	if m, ok := s["additionalProperties"].(map[string]any); ok {
		Tighten(m, strict, false)
	}
	switch it := s["items"].(type) {
	case map[string]any:
		Tighten(it, strict, false)
	case []any:
		for _, e := range it {
			if m, ok := e.(map[string]any); ok {
				Tighten(m, strict, false)
			}
		}
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := s[k].([]any); ok {
			for _, e := range list {
				if m, ok := e.(map[string]any); ok {
					Tighten(m, strict, true)
				}
			}
		}
	}
	if n, ok := s["not"].(map[string]any); ok {
		Tighten(n, strict, true)
	}
}

func addNull(s map[string]any) {
	switch t := s["type"].(type) {
	case string:
		s["type"] = []any{t, "null"}
	case []any:
		for _, e := range t {
			if e == "null" {
				return
			}
		}
		s["type"] = append(t, "null")
	}
}

// StripDocs removes descriptions and other text the validator never
// reads, which is most of a schema's size.
func StripDocs(v any) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range []string{"description", "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy", "x-kubernetes-map-type", "x-kubernetes-validations", "example", "externalDocs"} {
			delete(t, k)
		}
		for k, e := range t {
			// properties holds field names, one of which may be "description".
			if k == "properties" {
				if m, ok := e.(map[string]any); ok {
					for _, p := range m {
						StripDocs(p)
					}
					continue
				}
			}
			StripDocs(e)
		}
	case []any:
		for _, e := range t {
			StripDocs(e)
		}
	}
}
