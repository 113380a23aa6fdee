// Package scanfixture builds, without network, what the scan action is
// tested and benchmarked on: a Debian 12 image holding dpkg packages, a Go
// binary with module information and npm packages, and a trivy
// vulnerability database written with trivy-db's own API. The pipeline's
// demo database is written with it too.
package scanfixture
