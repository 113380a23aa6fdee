// Package catalog lists the packages of a scan target once, with trivy's
// analyzers or with syft, matches that one list against the vulnerability
// database, and encodes the same list as an SBOM, so every vulnerable
// package has the same purl in the report and in the SBOM.
package catalog
