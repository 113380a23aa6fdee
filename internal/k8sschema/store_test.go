package k8sschema

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVersionsCoverSupportedMinors(t *testing.T) {
	vs := Versions()
	if vs[0] != "1.30" || len(vs) < 8 {
		t.Fatalf("Versions() = %v, want 1.30 up to at least 1.37", vs)
	}
	for in, want := range map[string]string{"1.33.2": "1.33", "v1.31": "1.31"} {
		if got, err := ParseMinor(in); err != nil || got != want {
			t.Errorf("ParseMinor(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseMinor("banana"); err == nil {
		t.Error("ParseMinor accepted banana")
	}
	if Embedded("1.25") != "1.30" || Embedded("1.99") != Newest() {
		t.Error("Embedded does not clamp")
	}
}

func TestStoreSchemas(t *testing.T) {
	s := NewStore("1.30", true)
	b, err := s.Schema("apps/v1", "Deployment")
	if err != nil || b == nil {
		t.Fatalf("Deployment schema: %v", err)
	}
	// The spec must be recent: preStop.sleep arrived in 1.29.
	if !strings.Contains(string(b), `"sleep"`) || !strings.Contains(string(b), `"additionalProperties":false`) {
		t.Error("Deployment schema lacks lifecycle.preStop.sleep or strictness")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Schema("gateway.networking.k8s.io/v1", "HTTPRoute"); b == nil {
		t.Error("no embedded Gateway API HTTPRoute schema")
	}
	for _, gvk := range [][2]string{{"argoproj.io/v1alpha1", "Application"}, {"kustomize.toolkit.fluxcd.io/v1", "Kustomization"}} {
		if b, _ := s.Schema(gvk[0], gvk[1]); b == nil {
			t.Errorf("no embedded %s schema", gvk[1])
		}
	}
	if b, _ := s.Schema("example.com/v1", "Nope"); b != nil {
		t.Error("schema for an unknown kind")
	}
	loose, _ := NewStore("1.30", false).Schema("v1", "ConfigMap")
	if strings.Contains(string(loose), `"additionalProperties":false`) {
		t.Error("non-strict schema rejects unknown fields")
	}
}

func TestFromCRD(t *testing.T) {
	crd := map[string]any{
		"spec": map[string]any{
			"group": "example.com",
			"names": map[string]any{"kind": "Widget"},
			"versions": []any{map[string]any{"name": "v1", "schema": map[string]any{"openAPIV3Schema": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"spec": map[string]any{"type": "object", "properties": map[string]any{
						"size": map[string]any{"x-kubernetes-int-or-string": true},
						"raw":  map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": map[string]any{"a": map[string]any{"type": "string"}}},
					}},
				},
			}}}},
		},
	}
	out, err := FromCRD(crd, true)
	if err != nil {
		t.Fatal(err)
	}
	s := out["example.com/v1/Widget"]
	b, _ := json.Marshal(s)
	got := string(b)
	for _, want := range []string{`"apiVersion":{"type":["string","null"]}`, `"size":{"type":["integer","string","null"]`, `"additionalProperties":false`} {
		if !strings.Contains(got, want) {
			t.Errorf("schema lacks %s: %s", want, got)
		}
	}
	raw := s["properties"].(map[string]any)["spec"].(map[string]any)["properties"].(map[string]any)["raw"].(map[string]any)
	if raw["additionalProperties"] != nil {
		t.Error("preserve-unknown-fields object made strict")
	}
}
