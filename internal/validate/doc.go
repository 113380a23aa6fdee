// Package validate is the validate-config action: render, syntax, schema,
// policy and deprecated-API checks of a config repo, offline, in one pass.
package validate
