// Package deprecation holds the table of Kubernetes API versions
// deprecated or removed since 1.16 (apis.yaml) and answers, for a target
// cluster version, whether an object's apiVersion is still served.
package deprecation
