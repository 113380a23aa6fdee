// Package target opens what the scan action scans, once: an image in a
// registry, an OCI layout directory or image tarball, or a directory. The
// image is read through go-containerregistry so every consumer (trivy's
// analyzers, syft, the SBOM attachment) shares one pull. A layout is read
// inside its own directory only, and every blob of it is checked against
// its descriptor's digest and size before use.
package target
