// Package ignorefile reads scan's ignore files (trivy's .trivyignore and
// its YAML form) for the entries whose expiry date has passed. It is apart
// from internal/scan so that it can be fuzzed without building trivy.
package ignorefile
