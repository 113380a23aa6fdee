// Package imagetag turns tag rules in docker/metadata-action's syntax
// (type=sha, type=ref, type=semver, type=raw, type=schedule) and the
// GitHub event that triggered a run into image tags and OCI labels.
package imagetag
