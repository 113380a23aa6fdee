package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
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

func TestSARIFSourceRoot(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir()
	fs := []Finding{
		{Source: SourcePolicy, Rule: "GA-PDB-MISSING", Severity: Warning, File: filepath.Join(root, "apps", "my app.yaml"), Line: 4, Message: "w"},
		{Source: SourceSchema, Severity: Error, File: filepath.Join(other, "x.yaml"), Line: 1, Message: "e"},
		{Source: SourcePolicy, Rule: "main.deny", Severity: Error, File: filepath.Join(root, "b.yaml"), Line: 2, Message: "d"},
	}
	b, err := SARIF(Tool{Name: "validate-config", Version: "v1.4.2", SourceRoot: root}, map[string]Rule{"GA-PDB-MISSING": {ShortDescription: "needs a PDB"}}, fs, "")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Version         string
					SemanticVersion string
					Rules           []struct {
						ID               string
						Name             string
						ShortDescription struct{ Text string }
					}
				}
			}
			OriginalURIBaseIDs map[string]struct{ URI string } `json:"originalUriBaseIds"`
			Results            []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				}
			}
		}
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if base := run.OriginalURIBaseIDs[SourceRootID].URI; base != "file://"+filepath.ToSlash(root)+"/" {
		t.Errorf("originalUriBaseIds = %v, want the root as a file URL ending in /", run.OriginalURIBaseIDs)
	}
	loc := func(i int) (string, string) {
		a := run.Results[i].Locations[0].PhysicalLocation.ArtifactLocation
		return a.URI, a.URIBaseID
	}
	if uri, base := loc(0); uri != "apps/my%20app.yaml" || base != SourceRootID {
		t.Errorf("inside the root: uri %q base %q", uri, base)
	}
	if uri, base := loc(1); uri != "file://"+filepath.ToSlash(other)+"/x.yaml" || base != "" {
		t.Errorf("outside the root: uri %q base %q, want an absolute file URL", uri, base)
	}
	d := run.Tool.Driver
	if d.Version != "v1.4.2" || d.SemanticVersion != "1.4.2" {
		t.Errorf("driver version %q semanticVersion %q", d.Version, d.SemanticVersion)
	}
	names := map[string]bool{}
	for _, r := range d.Rules {
		if r.Name == "" || r.Name == r.ID || names[r.Name] || r.ShortDescription.Text == "" || r.ShortDescription.Text == r.ID {
			t.Errorf("rule %+v: want a distinct name and a description", r)
		}
		names[r.Name] = true
	}
	if !names["PdbMissing"] || !names["Schema"] || !names["MainDeny"] {
		t.Errorf("rule names = %v", names)
	}
}

func TestSourceRoot(t *testing.T) {
	repo := t.TempDir()
	sub := filepath.Join(repo, "clusters", "prod")
	if err := os.MkdirAll(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	noenv := func(string) string { return "" }
	if got := SourceRoot(noenv, sub); got != repo {
		t.Errorf("git top level: SourceRoot = %q, want %q", got, repo)
	}
	ws := func(k string) string {
		if k == "GITHUB_WORKSPACE" {
			return filepath.Join(repo, "clusters")
		}
		return ""
	}
	if got := SourceRoot(ws, sub); got != filepath.Join(repo, "clusters") {
		t.Errorf("workspace: SourceRoot = %q", got)
	}
	plain := t.TempDir()
	if got := SourceRoot(ws, plain); got != plain {
		t.Errorf("no repo, outside the workspace: SourceRoot = %q, want the path", got)
	}
}

func TestJUnit(t *testing.T) {
	fs := []Finding{
		{Severity: Error, Rule: "R", File: "a.yaml", Line: 3, Resource: &Resource{Kind: "Job", Name: "x"}, Message: "m"},
		{Severity: Notice, Rule: "N", File: "a.yaml", Line: 7, Message: "n"},
		{Severity: Warning, Rule: "W", File: "a.yaml", Line: 9, Message: "w1"},
		{Severity: Warning, Rule: "W", File: "a.yaml", Line: 9, Message: "w2"},
	}
	b, err := JUnit("validate-config", fs, Error)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Tests  int `xml:"tests,attr"`
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				File      string `xml:"file,attr"`
				Line      int    `xml:"line,attr"`
				Time      string `xml:"time,attr"`
				SystemOut string `xml:"system-out"`
				Failure   *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Tests != 4 || len(out.Suites) != 1 || out.Suites[0].Failures != 1 {
		t.Fatalf("JUnit = %s", b)
	}
	seen := map[string]bool{}
	for i, c := range out.Suites[0].Cases {
		if seen[c.Name] {
			t.Errorf("case name %q repeats", c.Name)
		}
		seen[c.Name] = true
		if c.SystemOut != fs[i].String() || c.File != "a.yaml" || c.Line != fs[i].Line || c.Time == "" {
			t.Errorf("case %d = %+v: want the finding's text, file and line", i, c)
		}
		if (c.Failure != nil) != (fs[i].Severity == Error) {
			t.Errorf("case %d failure = %v", i, c.Failure)
		}
	}
	if f := out.Suites[0].Cases[0].Failure; f == nil || f.Message != "Job/x: m" {
		t.Errorf("failure = %+v", f)
	}
}

func TestGroup(t *testing.T) {
	var fs []Finding
	for i := range 6 {
		fs = append(fs, Finding{Source: SourceSchema, Rule: "GA-SCHEMA-MISSING", Severity: Error, File: "w.yaml", Line: 1 + 7*i,
			Resource: &Resource{Kind: "Widget", Name: fmt.Sprintf("w%d", i)}, Message: "no schema"})
	}
	other := Finding{Source: SourceSchema, Rule: "GA-SCHEMA-MISSING", Severity: Error, File: "g.yaml", Line: 1, Resource: &Resource{Kind: "Gadget", Name: "g"}, Message: "no schema"}
	warn := fs[0]
	warn.Severity = Warning
	few := Finding{Source: SourcePolicy, Rule: "GA-X", Severity: Notice, File: "a.yaml", Resource: &Resource{Kind: "Pod"}, Message: "m"}
	fs = append(fs, other, warn, few, few, few)
	got := Group(fs)
	if len(got) != 6 {
		t.Fatalf("Group gave %d findings, want 6 (Widget errors, Gadget, the warning, 3 repeats below GroupMin): %v", len(got), got)
	}
	for _, f := range got[3:] {
		if f != few {
			t.Errorf("%d repeats were changed: %+v", GroupMin-1, f)
		}
	}
	want := "no schema [6 findings like this; also w.yaml:8 (Widget/w1), w.yaml:15 (Widget/w2), w.yaml:22 (Widget/w3) and 2 more]"
	if got[0].Message != want || got[0].Line != 1 || got[0].Resource.Name != "w0" {
		t.Errorf("group = %+v, want message %q at the first", got[0], want)
	}
	if got[1].Message != "no schema" || got[2].Message != "no schema" {
		t.Errorf("another kind or severity was grouped: %v", got[1:])
	}
	if fs[0].Message != "no schema" {
		t.Error("Group changed its input")
	}
	md := Markdown("validate-config", fs)
	if !strings.Contains(md, "7 error(s), 1 warning(s), 3 notice(s)") || strings.Count(md, "| error |") != 2 {
		t.Errorf("Markdown = %s", md)
	}
}
