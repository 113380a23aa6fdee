package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"sort"
)

// Rule is SARIF rule metadata: what a rule ID means and how to fix it.
type Rule struct {
	ID               string
	ShortDescription string
	Help             string // markdown or text shown by code scanning
	HelpURI          string
	// Properties are copied to the rule (e.g. "security-severity": "9.8", tags).
	Properties map[string]any
}

// Tool names the program in a SARIF log.
type Tool struct {
	Name           string
	Version        string
	InformationURI string
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      *sarifText     `json:"fullDescription,omitempty"`
	Help                 *sarifText     `json:"help,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration,omitempty"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
	Region *struct {
		StartLine int `json:"startLine"`
	} `json:"region,omitempty"`
}

// SARIFLevel maps a severity to a SARIF result level.
func SARIFLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

// SARIF renders findings as a SARIF 2.1.0 log that code scanning accepts:
// one rule per rule ID (metadata from rules when given), results located
// at file and line. Findings without a file point at defaultFile.
func SARIF(tool Tool, rules map[string]Rule, fs []Finding, defaultFile string) ([]byte, error) {
	ids := map[string]int{}
	var srules []sarifRule
	ruleIDs := Rules(fs)
	sort.Strings(ruleIDs)
	for _, f := range fs {
		if f.Rule == "" {
			if _, ok := ids[f.Source]; !ok {
				ruleIDs = append(ruleIDs, f.Source)
				ids[f.Source] = -1
			}
		}
	}
	clear(ids)
	for _, id := range ruleIDs {
		r, ok := rules[id]
		if !ok {
			r = Rule{ID: id, ShortDescription: id}
		}
		sr := sarifRule{ID: id, Name: id, ShortDescription: sarifText{Text: r.ShortDescription}, HelpURI: r.HelpURI, Properties: r.Properties}
		if r.Help != "" {
			sr.FullDescription = &sarifText{Text: r.Help}
			sr.Help = &sarifText{Text: r.Help, Markdown: r.Help}
		}
		ids[id] = len(srules)
		srules = append(srules, sr)
	}
	results := []sarifResult{}
	for _, f := range fs {
		id := f.Rule
		if id == "" {
			id = f.Source
		}
		msg := f.Message
		if f.Resource != nil {
			msg = f.Resource.String() + ": " + msg
		}
		res := sarifResult{RuleID: id, RuleIndex: ids[id], Level: SARIFLevel(f.Severity), Message: sarifText{Text: msg}}
		file := f.File
		if file == "" {
			file = defaultFile
		}
		if file != "" {
			var loc sarifLocation
			loc.PhysicalLocation.ArtifactLocation.URI = file
			line := f.Line
			if line < 1 {
				line = 1
			}
			loc.PhysicalLocation.Region = &struct {
				StartLine int `json:"startLine"`
			}{line}
			res.Locations = []sarifLocation{loc}
		}
		results = append(results, res)
	}
	if srules == nil {
		srules = []sarifRule{}
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: sarifDriver{Name: tool.Name, Version: tool.Version, InformationURI: tool.InformationURI, Rules: srules}}, Results: results}},
	}
	return json.MarshalIndent(log, "", "  ")
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders findings as JUnit XML: one suite per file, one failing
// case per finding at or above failOn, others as passing cases.
func JUnit(name string, fs []Finding, failOn Severity) ([]byte, error) {
	byFile := map[string]*junitSuite{}
	var order []string
	for _, f := range fs {
		file := f.File
		if file == "" {
			file = name
		}
		s, ok := byFile[file]
		if !ok {
			s = &junitSuite{Name: file}
			byFile[file] = s
			order = append(order, file)
		}
		c := junitCase{Name: fmt.Sprintf("%s %s", f.Rule, f.Resource.String()), Classname: file}
		if f.Severity.Rank() >= failOn.Rank() {
			c.Failure = &junitFailure{Message: f.Message, Type: string(f.Severity), Text: f.String()}
			s.Failures++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	out := junitSuites{}
	for _, file := range order {
		out.Suites = append(out.Suites, *byFile[file])
	}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding JUnit: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}
