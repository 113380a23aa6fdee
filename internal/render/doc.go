// Package render turns kustomizations and Helm charts into the manifests
// they stand for, in-process, and says where each rendered object came
// from so validate-config can point findings at the source file.
package render
