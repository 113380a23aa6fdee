// Package gitrepo drives the git command line for one clone of a remote:
// shallow clone, commit, push with rejection detection, fetch and reset.
// A token reaches git only through the environment as an HTTP header, never
// in arguments or URLs, so it cannot show in process lists or git's messages.
package gitrepo
