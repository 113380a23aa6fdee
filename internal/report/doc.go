// Package report holds the Finding value every action produces and renders
// a list of them as text, JSON report, markdown summary, SARIF and JUnit.
package report
