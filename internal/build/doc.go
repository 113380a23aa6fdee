// Package build is the build action: it lints a Dockerfile
// (internal/dockerfile), works out tags and OCI labels from the GitHub
// event (internal/imagetag), builds with the go builder (internal/gobuild)
// or a Dockerfile builder (buildx, else buildah), and pushes by digest,
// then tags, reading the digest back from the registry.
package build
