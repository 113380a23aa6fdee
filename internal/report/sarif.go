package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
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
	// SourceRoot, when set, is the absolute directory result locations
	// are made relative to, under the base ID SRCROOT, so code scanning
	// maps them to repository files wherever the run's checkout was.
	SourceRoot string
}

// SourceRootID is the uriBaseId of locations inside Tool.SourceRoot.
const SourceRootID = "%SRCROOT%"

// SourceRoot is the repository root for the files found from path:
// GITHUB_WORKSPACE when it holds path, else the top of the git work tree
// path is in, else path itself (its directory when it is a file).
func SourceRoot(getenv func(string) string, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	if ws := getenv("GITHUB_WORKSPACE"); ws != "" {
		if ws, err := filepath.Abs(ws); err == nil && within(ws, abs) {
			return ws
		}
	}
	dir := abs
	if st, err := os.Stat(abs); err == nil && !st.IsDir() {
		dir = filepath.Dir(abs)
	}
	// A .git directory or file (worktrees, submodules) marks the top.
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return dir
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// fileURI is the file URL of an absolute path; dirs end in a slash as
// SARIF requires of a base.
func fileURI(abs string, dir bool) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive path
	}
	if dir && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// artifact is where a finding's file goes in SARIF: relative to the
// source root with its base ID when inside it, else an absolute file URL
// (never a bare absolute path, which has no meaning to code scanning).
func (t Tool) artifact(file string) sarifArtifact {
	if t.SourceRoot == "" {
		return sarifArtifact{URI: file}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return sarifArtifact{URI: file}
	}
	if within(t.SourceRoot, abs) {
		rel, _ := filepath.Rel(t.SourceRoot, abs)
		return sarifArtifact{URI: (&url.URL{Path: filepath.ToSlash(rel)}).String(), URIBaseID: SourceRootID}
	}
	return sarifArtifact{URI: fileURI(abs, false)}
}

var semver = regexp.MustCompile(`^v?(\d+\.\d+\.\d+(?:[-+].*)?)$`)

// ruleName is a rule's SARIF name, an identifier distinct from its ID:
// GA-PDB-MISSING is PdbMissing, schema is Schema.
func ruleName(id string) string {
	var b strings.Builder
	parts := strings.FieldsFunc(id, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(parts) > 1 && parts[0] == "GA" {
		parts = parts[1:]
	}
	for _, p := range parts {
		b.WriteString(strings.ToUpper(p[:1]) + strings.ToLower(p[1:]))
	}
	return b.String()
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                `json:"tool"`
	OriginalURIBaseIDs map[string]sarifArtifact `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult            `json:"results"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	SemVer         string      `json:"semanticVersion,omitempty"`
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
	RuleID        string          `json:"ruleId"`
	RuleIndex     int             `json:"ruleIndex"`
	Level         string          `json:"level"`
	Message       sarifText       `json:"message"`
	Locations     []sarifLocation `json:"locations,omitempty"`
	BaselineState string          `json:"baselineState,omitempty"`
	Properties    map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *struct {
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
			r = Rule{ID: id, ShortDescription: "Finding of rule " + id}
		}
		if r.ShortDescription == "" {
			r.ShortDescription = "Finding of rule " + id
		}
		sr := sarifRule{ID: id, Name: ruleName(id), ShortDescription: sarifText{Text: r.ShortDescription}, HelpURI: r.HelpURI, Properties: r.Properties}
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
		res := sarifResult{RuleID: id, RuleIndex: ids[id], Level: SARIFLevel(f.Severity), Message: sarifText{Text: f.Text()}}
		if f.SARIF != nil {
			res.BaselineState, res.Properties = f.SARIF.BaselineState, f.SARIF.Properties
		}
		file := f.File
		if file == "" {
			file = defaultFile
		}
		if file != "" {
			var loc sarifLocation
			loc.PhysicalLocation.ArtifactLocation = tool.artifact(file)
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
	driver := sarifDriver{Name: tool.Name, Version: tool.Version, InformationURI: tool.InformationURI, Rules: srules}
	if m := semver.FindStringSubmatch(tool.Version); m != nil {
		driver.SemVer = m[1]
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: results}
	if tool.SourceRoot != "" {
		run.OriginalURIBaseIDs = map[string]sarifArtifact{SourceRootID: {URI: fileURI(tool.SourceRoot, true)}}
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	}
	return json.MarshalIndent(log, "", "  ")
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

// junitCase carries file and line as attributes, which JUnit readers
// (mikepenz/action-junit-report, dorny/test-reporter) use for annotations.
type junitCase struct {
	Name       string           `xml:"name,attr"`
	Classname  string           `xml:"classname,attr"`
	File       string           `xml:"file,attr,omitempty"`
	Line       int              `xml:"line,attr,omitempty"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Failure    *junitFailure    `xml:"failure,omitempty"`
	SystemOut  string           `xml:"system-out,omitempty"`
}

type junitProperties struct {
	List []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders findings as JUnit XML: one suite per file, one case per
// finding, failing at or above failOn. Every case, passing or not,
// carries the finding's line in system-out and its severity, rule and
// location as properties; case names are unique within a suite.
func JUnit(name string, fs []Finding, failOn Severity) ([]byte, error) {
	byFile := map[string]*junitSuite{}
	var order []string
	names := map[string]int{}
	for _, f := range fs {
		file := f.File
		if file == "" {
			file = name
		}
		s, ok := byFile[file]
		if !ok {
			s = &junitSuite{Name: file, Time: "0"}
			byFile[file] = s
			order = append(order, file)
		}
		rule := f.Rule
		if rule == "" {
			rule = f.Source
		}
		caseName := rule
		if r := f.Resource.String(); r != "" {
			caseName += " " + r
		}
		loc := file
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", file, f.Line)
			caseName += fmt.Sprintf(" line %d", f.Line)
		}
		key := file + "\x00" + caseName
		names[key]++
		if n := names[key]; n > 1 {
			caseName += fmt.Sprintf(" (%d)", n)
		}
		c := junitCase{Name: caseName, Classname: file, File: f.File, Line: f.Line, Time: "0", SystemOut: f.String(),
			Properties: &junitProperties{List: []junitProperty{{"severity", string(f.Severity)}, {"rule", rule}, {"location", loc}}}}
		if f.Severity.Rank() >= failOn.Rank() && failOn.Rank() > 0 {
			c.Failure = &junitFailure{Message: f.Text(), Type: string(f.Severity), Text: f.String()}
			s.Failures++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	out := junitSuites{Name: name, Time: "0"}
	for _, file := range order {
		s := byFile[file]
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Suites = append(out.Suites, *s)
	}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding JUnit: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}
