// Package render turns kustomizations and Helm charts into the manifests
// they stand for, and says where each rendered object came from so
// validate-config can point findings at the source file. A Runner renders
// each unit in a child process of the same binary, bounded in output,
// memory and time, since a hostile chart cannot be bounded in-process.
package render
