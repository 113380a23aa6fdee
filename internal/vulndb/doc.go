// Package vulndb keeps trivy's vulnerability database in a cache directory
// laid out as trivy lays it out (<cache-dir>/db/trivy.db + metadata.json),
// so a cache made by the trivy CLI works here and the other way round. It
// downloads from a list of OCI references in order and falls back to the
// cached copy, with its age, when none answers.
package vulndb
