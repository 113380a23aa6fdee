// Package imagetag turns tag rules and a flavor in docker/metadata-action's
// syntax (type=schedule, semver, match, edge, ref, raw, sha; latest, prefix,
// suffix) and the GitHub event that triggered a run into image tags, in
// priority order, and OCI labels.
package imagetag
