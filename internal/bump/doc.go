// Package bump is the bump-manifest action: it writes a new image into a
// config repo with byte-minimal edits, by commit or pull request.
package bump
