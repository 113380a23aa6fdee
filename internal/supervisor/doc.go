// Package supervisor runs a command's work in a child process of the same
// binary and tells how it ended, so that a Go runtime crash (which always
// exits 2, the code of bad input) can be reported as the internal error it
// is. A command imports it for its init, which starts the child before the
// command's heavy dependencies initialise: the parent then costs a few
// milliseconds instead of a second start of trivy or Helm. Only light
// standard packages may be imported here, or that advantage is lost.
package supervisor
