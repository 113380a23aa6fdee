// Package prune is the prune-images action: it deletes untagged and expired
// images and never anything a kept tag reaches.
package prune
