// Package attest is the attest action: it signs an image by digest and
// attaches in-toto attestations (SLSA provenance, the scan's SBOM, the scan
// result) as Sigstore bundles, stored the way cosign v3 stores them: an OCI
// 1.1 referrer of the image whose single layer is the bundle, or the
// sha256-<digest> tag on registries without the referrers API.
package attest
