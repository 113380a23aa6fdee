package validate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gitops-actions/gitops-actions/internal/policy"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// Rule IDs validate-config reports besides the built-in policies.
const (
	RuleAPIRemoved      = "GA-API-REMOVED"
	RuleAPIDeprecated   = "GA-API-DEPRECATED"
	RuleRender          = "GA-RENDER-FAILED"
	RuleRenderLimit     = "GA-RENDER-LIMIT"
	ruleNoSchema        = "GA-SCHEMA-MISSING"
	RuleSchemaInvalid   = "GA-SCHEMA-INVALID"
	RulePathOutside     = "GA-PATH-OUTSIDE"
	RuleRemote          = "GA-REMOTE-REFUSED"
	RuleImageUnverified = "GA-IMAGE-UNVERIFIED"
	// RuleComponentUnused is a notice: an unused Component is no error.
	RuleComponentUnused = "GA-COMPONENT-UNUSED"
)

// ruleMetadata is the SARIF rule table: every built-in rule with its doc.
func ruleMetadata() map[string]report.Rule {
	m := map[string]report.Rule{
		RuleAPIRemoved:      {ID: RuleAPIRemoved, ShortDescription: "API version removed in the target Kubernetes version", Help: "The apiVersion/kind is no longer served by the target cluster version: move to the replacement named in the message."},
		RuleAPIDeprecated:   {ID: RuleAPIDeprecated, ShortDescription: "API version deprecated in the target Kubernetes version", Help: "The apiVersion/kind is deprecated and will be removed: move to the replacement named in the message."},
		RuleRender:          {ID: RuleRender, ShortDescription: "kustomize or Helm rendering failed", Help: "The kustomization or chart could not be rendered; the message says why (missing base, template error)."},
		policy.RuleLimit:    {ID: policy.RuleLimit, ShortDescription: "A policy was stopped by a time or memory limit", Help: "The policy named in the message ran longer than policy-timeout on this object, or used too much memory; the object's other checks still ran."},
		RuleRenderLimit:     {ID: RuleRenderLimit, ShortDescription: "kustomize or Helm rendering stopped at a limit", Help: "Rendering the kustomization or chart produced more than render-max-bytes, used too much memory or took longer than render-timeout; its objects are not checked. Raise the input if the unit is genuine."},
		ruleNoSchema:        {ID: ruleNoSchema, ShortDescription: "No schema for the object's apiVersion and kind", Help: "Add the CustomResourceDefinition to the input or crd-path, or set ignore-missing-schemas."},
		RulePathOutside:     {ID: RulePathOutside, ShortDescription: "A symlink leads outside the repository", Help: "A file, kustomization entry, chart file or input path resolves outside the repository; it was not read. Replace the link with the file itself."},
		RuleImageUnverified: {ID: RuleImageUnverified, ShortDescription: "An image lacks the signature or attestations verify-images requires", Help: "With verify-images, every image reference must be pinned by digest and carry the proofs listed in verify, signed by the trusted identity or key; the message says which proof was missing or wrong. Attest the image, or pin a digest that was attested."},
		RuleRemote:          {ID: RuleRemote, ShortDescription: "A kustomization names a remote base or file", Help: "Remote bases, files and Helm chart repositories are not fetched unless allow-remote is set; vendor them into the repository or turn allow-remote on."},
		RuleNotResource:     {ID: RuleNotResource, ShortDescription: "A document has a kind but no apiVersion, or an apiVersion but no kind", Help: "kubectl and the API server refuse a document that names only one of apiVersion and kind (often a misspelled key such as apiVerison). Add the missing key or fix its spelling; a document with neither is not an object and is skipped."},
		RuleComponentUnused: {ID: RuleComponentUnused, ShortDescription: "A kustomize Component no kustomization includes", Help: "A Component is rendered through the kustomizations that list it under components:; one no kustomization under the input paths includes is checked alone, and when it does not build alone it is not checked. Include it, or delete it."},
		RuleIgnoreInvalid:   {ID: RuleIgnoreInvalid, ShortDescription: "An ignore annotation names a rule it cannot turn off", Help: "The gitops-actions.io/ignore annotation names a GA- rule that does not exist, or one (syntax, schema, removed API, render, policy limit) that cannot be suppressed per object."},
		report.SourceSyntax: {ID: report.SourceSyntax, ShortDescription: "YAML syntax error or duplicate key"},
		report.SourceSchema: {ID: report.SourceSchema, ShortDescription: "Object does not match its Kubernetes or CRD schema"},
		RuleSchemaInvalid:   {ID: RuleSchemaInvalid, ShortDescription: "Object does not match its Kubernetes or CRD schema", Help: "Fix the field the message names: unknown with strict, wrong type, or a required field missing."},
	}
	for _, r := range policy.BuiltinRules {
		m[r.ID] = report.Rule{ID: r.ID, ShortDescription: r.Doc, Help: r.Doc}
	}
	return m
}

// ruleLegend lists the doc line of each built-in rule that fired, shown
// with the findings.
func ruleLegend(fs []report.Finding) string {
	var b strings.Builder
	fired := report.Rules(fs)
	for _, r := range policy.BuiltinRules {
		if slices.Contains(fired, r.ID) {
			fmt.Fprintf(&b, "- %s: %s\n", r.ID, r.Doc)
		}
	}
	return b.String()
}
