package k8sschema

import (
	"encoding/json"
	"fmt"
	"os"
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

// Each project of the catalog must bring the kinds a config repo of that
// stack holds.
func TestCatalogKinds(t *testing.T) {
	s := NewStore(Newest(), true)
	for _, gvk := range [][2]string{
		{"source.toolkit.fluxcd.io/v1", "GitRepository"}, {"source.toolkit.fluxcd.io/v1", "HelmRepository"},
		{"source.toolkit.fluxcd.io/v1", "OCIRepository"}, {"source.toolkit.fluxcd.io/v1", "ExternalArtifact"},
		{"helm.toolkit.fluxcd.io/v2", "HelmRelease"}, {"notification.toolkit.fluxcd.io/v1", "Receiver"},
		{"image.toolkit.fluxcd.io/v1", "ImagePolicy"}, {"image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation"},
		{"argoproj.io/v1alpha1", "AppProject"}, {"argoproj.io/v1alpha1", "ApplicationSet"},
		{"argoproj.io/v1alpha1", "Workflow"}, {"argoproj.io/v1alpha1", "WorkflowTemplate"},
		{"argoproj.io/v1alpha1", "ClusterWorkflowTemplate"}, {"argoproj.io/v1alpha1", "CronWorkflow"},
		{"argoproj.io/v1alpha1", "Rollout"},
		{"external-secrets.io/v1", "ExternalSecret"}, {"external-secrets.io/v1", "SecretStore"},
		{"external-secrets.io/v1", "ClusterSecretStore"}, {"external-secrets.io/v1alpha1", "PushSecret"},
		{"cert-manager.io/v1", "Certificate"}, {"cert-manager.io/v1", "ClusterIssuer"},
		{"monitoring.coreos.com/v1", "ServiceMonitor"}, {"monitoring.coreos.com/v1", "PodMonitor"}, {"monitoring.coreos.com/v1", "PrometheusRule"},
		{"gateway.networking.k8s.io/v1", "HTTPRoute"}, {"gateway.networking.k8s.io/v1", "GatewayClass"},
		{"keda.sh/v1alpha1", "ScaledObject"}, {"postgresql.cnpg.io/v1", "Cluster"},
		{"networking.istio.io/v1", "VirtualService"}, {"networking.istio.io/v1", "DestinationRule"},
	} {
		if b, err := s.Schema(gvk[0], gvk[1]); err != nil || b == nil {
			t.Errorf("no embedded schema for %s %s (%v)", gvk[0], gvk[1], err)
		}
	}
	// Flux's Kustomization takes an ExternalArtifact as its source since Flux 2.7.
	b, _ := s.Schema("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
	if !strings.Contains(string(b), `"ExternalArtifact"`) {
		t.Error("embedded Flux Kustomization does not accept sourceRef.kind ExternalArtifact")
	}
	// A version the project no longer serves is not a schema.
	if b, _ := s.Schema("external-secrets.io/v1beta1", "ExternalSecret"); b != nil {
		t.Error("schema for external-secrets.io/v1beta1, which External Secrets no longer serves")
	}
}

// The docs name the release of each embedded project; they must follow
// the generator.
func TestCatalogDocumented(t *testing.T) {
	c, err := Catalog()
	if err != nil || len(c.Sources) < 10 {
		t.Fatalf("Catalog() = %d sources, %v", len(c.Sources), err)
	}
	doc, err := os.ReadFile("../../docs/validate-config.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.Sources {
		if row := fmt.Sprintf("| %s | %s |", s.Project, s.Version); !strings.Contains(string(doc), row) {
			t.Errorf("docs/validate-config.md lacks the row %q of the embedded CRD catalog", row)
		}
	}
}
