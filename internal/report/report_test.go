package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindingString(t *testing.T) {
	f := Finding{Source: SourceSchema, Rule: "GA-X", Severity: Error, File: "a.yaml", Line: 3, Message: "bad"}
	if got := f.String(); got != "a.yaml:3: error GA-X: bad" {
		t.Errorf("String() = %q", got)
	}
	if got := (Finding{Severity: Notice, Message: "m"}).String(); got != "notice: m" {
		t.Errorf("String() = %q", got)
	}
}

func TestGateAndCounts(t *testing.T) {
	fs := []Finding{{Severity: Warning}, {Severity: Notice}, {Severity: Warning}}
	if c := Count(fs); c != (Counts{0, 2, 1}) {
		t.Errorf("Count = %+v", c)
	}
	if AtOrAbove(fs, Error) || !AtOrAbove(fs, Warning) || !AtOrAbove(fs, Notice) {
		t.Error("AtOrAbove gates wrong")
	}
}

func TestReportJSONShape(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "r.json")
	r := &Report{Action: "scan", Version: "v1", Status: StatusFailed, Outputs: map[string]string{"a": "1"},
		Findings: []Finding{{Source: SourceVulnerability, Rule: "CVE-1", Severity: Error, Message: "m"}},
		Extra:    map[string]any{"vulnerabilities": []string{"CVE-1"}, "status": "overridden?"}}
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["action"] != "scan" || m["status"] != "failed" || m["version"] != "v1" || m["vulnerabilities"] == nil {
		t.Errorf("report = %s", b)
	}
	if fs := m["findings"].([]any); fs[0].(map[string]any)["source"] != "vulnerability" {
		t.Errorf("findings = %v", fs)
	}
}

func TestMarkdownEscapes(t *testing.T) {
	md := Markdown("validate-config", []Finding{{Severity: Error, Rule: "R", Message: "a|b\nc"}})
	if !strings.Contains(md, `a\|b<br>c`) || !strings.Contains(md, "1 error(s)") {
		t.Errorf("Markdown = %s", md)
	}
	if !strings.Contains(Markdown("x", nil), "No findings.") {
		t.Error("empty Markdown")
	}
}
