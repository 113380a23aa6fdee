// Package grypematch matches a package list against grype's vulnerability
// database (schema v6) with grype's own matchers, and keeps that database
// in a cache directory the way the scan action keeps trivy's: downloaded
// when stale, the cached copy used when a download fails, a damaged copy
// refused.
package grypematch
