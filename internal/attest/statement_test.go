package attest

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
)

// The vuln predicate carries what a deploy gate decides on: whether the
// scan's gate passed, the counts and the database time; a failed gate is
// attested as failed, and a report that contradicts itself is refused.
func TestVulnPredicate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, report string
		want         []string
		fail         string
	}{
		{"passed", scanReportJSON(true), []string{`"passed":true`, `"critical":0`, `"high":1`, `"version":"2026-11-30T06:00:00Z"`, `"CVE-2026-0001"`}, ""},
		{"failed gate", scanReportJSON(false), []string{`"passed":false`, `"critical":1`}, ""},
		{"status and passed disagree", strings.Replace(scanReportJSON(true), `"passed":"true"`, `"passed":"false"`, 1), nil, "says status"},
		{"count not a number", strings.Replace(scanReportJSON(true), `"high":"1"`, `"high":"many"`, 1), nil, "not a number"},
		{"count missing", strings.Replace(scanReportJSON(true), `"medium":"0",`, ``, 1), nil, "no medium count"},
		{"bad db time", strings.Replace(scanReportJSON(true), `"updated-at":"2026-11-30T06:00:00Z"`, `"updated-at":"yesterday"`, 1), nil, "not a time"},
		{"cut short", scanReportJSON(true)[:120], nil, "not the scan action's JSON report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := vulnPredicate(writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "-")+".json", tc.report))
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) || !strings.Contains(err.Error(), `"scan-report"`) {
					t.Fatalf("err %v, want one naming scan-report with %q", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st, err := statement("ghcr.io/acme/api", "sha256:"+strings.Repeat("ab", 32), p)
			if err != nil {
				t.Fatal(err)
			}
			compact := strings.Join(strings.Fields(string(st)), "")
			if !contains(compact, append(tc.want, `"predicateType":"`+PredicateVuln+`"`)...) {
				t.Errorf("statement lacks %v:\n%s", tc.want, compact)
			}
			if _, err := protojson.Marshal(p.Body); err != nil {
				t.Fatal(err)
			}
		})
	}
}
