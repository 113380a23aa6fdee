// Package policy evaluates Rego over Kubernetes objects: the built-in
// GA-* rules (embedded), conftest-style user policies and Gatekeeper
// ConstraintTemplates with their constraints. Every query is prepared
// once and evaluated per object.
package policy
