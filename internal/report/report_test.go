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

func TestSARIF(t *testing.T) {
	fs := []Finding{
		{Source: SourcePolicy, Rule: "GA-B", Severity: Warning, File: "a.yaml", Line: 2, Message: "w"},
		{Source: SourceSyntax, Severity: Error, File: "b.yaml", Message: "e"},
		{Source: SourcePolicy, Rule: "GA-A", Severity: Notice, Message: "n"},
	}
	b, err := SARIF(Tool{Name: "gitops-actions", Version: "v1"}, map[string]Rule{"GA-B": {ID: "GA-B", ShortDescription: "b rule", Help: "fix b"}}, fs, "kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID               string                `json:"id"`
						ShortDescription struct{ Text string } `json:"shortDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if log.Version != "2.1.0" || len(run.Results) != 3 || len(run.Tool.Driver.Rules) != 3 {
		t.Fatalf("sarif = %s", b)
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s points at rule %d", r.RuleID, r.RuleIndex)
		}
		if len(r.Locations) != 1 || r.Locations[0].PhysicalLocation.Region.StartLine < 1 {
			t.Errorf("result %s has no valid location", r.RuleID)
		}
	}
	if run.Results[2].Locations[0].PhysicalLocation.ArtifactLocation.URI != "kustomization.yaml" || run.Results[1].Level != "error" {
		t.Errorf("sarif = %s", b)
	}
}

func TestJUnit(t *testing.T) {
	b, err := JUnit("validate-config", []Finding{{Severity: Error, Rule: "R", File: "a.yaml", Message: "m"}, {Severity: Notice, Rule: "N", File: "a.yaml", Message: "n"}}, Warning)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, `<testsuite name="a.yaml" tests="2" failures="1">`) || strings.Count(s, "<failure") != 1 {
		t.Errorf("JUnit = %s", s)
	}
}
