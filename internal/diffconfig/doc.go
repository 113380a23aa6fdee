// Package diffconfig is the diff-config action: it renders every unit of
// a config repo that a change reaches, at the base and the head commit,
// and reports per resource what was added, removed and changed.
package diffconfig
