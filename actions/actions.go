// Package actions holds the manifest that every action.yml, every --help
// and every input parser is read from.
package actions

import _ "embed"

// Manifest is actions.yaml as committed.
//
//go:embed actions.yaml
var Manifest []byte

//go:generate go run ../internal/manifest/gen -manifest actions.yaml -out . -readme ../README.md
