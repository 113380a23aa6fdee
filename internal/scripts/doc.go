// Package scripts holds the toolkit-wide tests: every action run as a
// testscript, the manifest↔binary wiring, the package dependency rules and
// actionlint over every workflow and action.yml.
package scripts
