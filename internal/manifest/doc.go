// Package manifest reads actions/actions.yaml, the single description of
// every action's inputs and outputs, and renders the composite action.yml
// files from it.
package manifest
