// Package k8sschema holds the JSON schemas validate-config embeds
// (Kubernetes 1.30 and later, and the CRDs of the projects in gen's crdSources), and turns OpenAPI definitions and
// CustomResourceDefinitions into standalone, optionally strict, JSON
// schemas in the form kubeconform reads.
package k8sschema

//go:generate go run ./gen -out data
