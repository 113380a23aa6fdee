// Package scan is the scan action: one analysis of an image feeds its SBOM
// and its vulnerability gate.
package scan
