// Package testenv starts the real servers the tests use: an in-process CNCF
// distribution v3 registry, Debian's docker-registry 2.8 behind a counting
// proxy, a git smart-HTTP server (git http-backend over CGI) and a scripted
// fake of the GitHub REST API. Every server listens on 127.0.0.1 on a free
// port and is stopped by t.Cleanup.
//
// A helper that needs a program from a Debian package names that package when
// the program is missing. Under CI=true that fails the test, since a skip would
// let a broken CI machine pass; elsewhere the test is skipped.
package testenv
