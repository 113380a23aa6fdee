// Package target opens what the scan action scans, once: an image in a
// registry, an OCI layout directory or image tarball, or a directory. The
// image is read through go-containerregistry so every consumer (trivy's
// analyzers, syft, the SBOM attachment) shares one pull.
package target
