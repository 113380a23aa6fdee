// Package gobuild builds container images from a Go main package without a
// Docker daemon: it cross-compiles a static binary per platform, adds it
// as one reproducible layer on a base image, and assembles an image index.
package gobuild
