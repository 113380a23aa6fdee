// Package verify checks, before a digest is deployed, that its Sigstore
// bundles (OCI referrers, as the attest action and cosign v3 write them)
// prove what a policy requires: a signature, SLSA provenance, an SBOM and
// a vulnerability scan whose gate passed, each from a trusted identity.
package verify
