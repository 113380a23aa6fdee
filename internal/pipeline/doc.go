// Package pipeline runs the whole chain locally (build, push, scan, bump,
// validate) with the same code as the actions.
package pipeline
