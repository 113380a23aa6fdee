// Package build is the build action: it lints a Dockerfile, builds an image
// with the go builder or a Dockerfile builder, tags it and pushes it.
package build
