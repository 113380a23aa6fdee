// Package dockerfile lints Dockerfiles for the practices the build action
// teaches: minimal final stages, pinned bases, exec-form commands in
// shell-less images, non-root users and a Rails entrypoint that clears a
// stale server.pid. Findings carry rule IDs GA-DF-* and 1-based lines.
package dockerfile
