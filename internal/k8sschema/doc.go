// Package k8sschema holds the Kubernetes and Gateway API JSON schemas that
// validate-config embeds, and turns OpenAPI definitions and
// CustomResourceDefinitions into standalone, optionally strict, JSON
// schemas in the form kubeconform reads.
package k8sschema

//go:generate go run ./gen -out data
