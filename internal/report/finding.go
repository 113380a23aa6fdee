package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity of a finding.
type Severity string

// Severities, most severe first.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Notice  Severity = "notice"
)

// Rank orders severities: error 3, warning 2, notice 1, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case Error:
		return 3
	case Warning:
		return 2
	case Notice:
		return 1
	}
	return 0
}

// ParseSeverity reads error, warning or notice.
func ParseSeverity(s string) (Severity, error) {
	switch v := Severity(strings.ToLower(strings.TrimSpace(s))); v {
	case Error, Warning, Notice:
		return v, nil
	}
	return "", fmt.Errorf("severity %q is not one of error, warning, notice", s)
}

// Finding sources.
const (
	SourceSyntax        = "syntax"
	SourceSchema        = "schema"
	SourcePolicy        = "policy"
	SourceDeprecation   = "deprecation"
	SourceLint          = "lint"
	SourceVulnerability = "vulnerability"
)

// Resource names the Kubernetes object a finding is about.
type Resource struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
}

func (r *Resource) String() string {
	if r == nil {
		return ""
	}
	s := r.Kind + "/" + r.Name
	if r.Namespace != "" {
		s = r.Namespace + "/" + s
	}
	return s
}

// Finding is one problem an action found. File is relative to the input
// root and Line is 1-based; both may be empty.
type Finding struct {
	Source   string    `json:"source"`
	Rule     string    `json:"rule,omitempty"`
	Severity Severity  `json:"severity"`
	File     string    `json:"file,omitempty"`
	Line     int       `json:"line,omitempty"`
	Resource *Resource `json:"resource,omitempty"`
	Message  string    `json:"message"`
	// SARIF, when set, goes to the finding's SARIF result only.
	SARIF *SARIFResult `json:"-"`
}

// SARIFResult is what a SARIF result carries beyond the finding.
type SARIFResult struct {
	// BaselineState is SARIF 2.1.0's: new or unchanged against a baseline.
	BaselineState string
	Properties    map[string]any
}

// String renders a finding as "file:line: severity rule: message".
func (f Finding) String() string {
	var b strings.Builder
	if f.File != "" {
		b.WriteString(f.File)
		if f.Line > 0 {
			fmt.Fprintf(&b, ":%d", f.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(string(f.Severity))
	if f.Rule != "" {
		b.WriteString(" " + f.Rule)
	}
	b.WriteString(": ")
	if f.Resource != nil {
		b.WriteString(f.Resource.String() + ": ")
	}
	b.WriteString(f.Message)
	return b.String()
}

// Text is the message with the object it is about: "Kind/name: message".
func (f Finding) Text() string {
	if f.Resource != nil {
		return f.Resource.String() + ": " + f.Message
	}
	return f.Message
}

// Counts tallies findings by severity.
type Counts struct{ Errors, Warnings, Notices int }

// Count tallies findings by severity.
func Count(fs []Finding) Counts {
	var c Counts
	for _, f := range fs {
		switch f.Severity {
		case Error:
			c.Errors++
		case Warning:
			c.Warnings++
		case Notice:
			c.Notices++
		}
	}
	return c
}

// AtOrAbove reports whether any finding is at least as severe as min.
func AtOrAbove(fs []Finding, min Severity) bool {
	for _, f := range fs {
		if f.Severity.Rank() >= min.Rank() && min.Rank() > 0 {
			return true
		}
	}
	return false
}

// Sort orders findings by file, line, rule and message, so output is stable
// whatever order parallel work finished in.
func Sort(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// GroupShown is how many places a grouped finding names besides its
// own; GroupMin repeats or more are folded, fewer are shown as they are
// (each at its own line is more use than a list of two).
const (
	GroupShown = 3
	GroupMin   = 4
)

// GroupKey is what makes findings repeats of one another: the same
// severity, rule (or source, for findings without one), kind of object
// and message. File, line, name and namespace may differ: 225 objects of
// one kind without a schema, or one template typo rendered into 14
// objects, are one problem. A finding about a file, not an object (a
// syntax error, a render that failed), has its file in the key: the same
// error in two files is two problems.
func GroupKey(f Finding) string {
	rule := f.Rule
	if rule == "" {
		rule = f.Source
	}
	kind := "file:" + f.File
	if f.Resource != nil {
		kind = f.Resource.Kind
	}
	return strings.Join([]string{string(f.Severity), rule, kind, f.Message}, "\x00")
}

// Group folds GroupMin or more repeats (same GroupKey) into the first
// of them, its message saying how many there are and where the next
// GroupShown are; the order given is kept. It is for what people read
// (text, summary, annotations); reports keep every finding.
func Group(fs []Finding) []Finding {
	groups := map[string][]int{}
	for i, f := range fs {
		k := GroupKey(f)
		groups[k] = append(groups[k], i)
	}
	out := make([]Finding, 0, len(fs))
	for i, f := range fs {
		g := groups[GroupKey(f)]
		if len(g) < GroupMin {
			out = append(out, f)
			continue
		}
		if g[0] != i {
			continue
		}
		var places []string
		for _, j := range g[1 : 1+GroupShown] {
			places = append(places, fs[j].place())
		}
		tail := ""
		if n := len(g) - 1 - GroupShown; n > 0 {
			tail = fmt.Sprintf(" and %d more", n)
		}
		f.Message += fmt.Sprintf(" [%d findings like this; also %s%s]", len(g), strings.Join(places, ", "), tail)
		out = append(out, f)
	}
	return out
}

// place is where a finding is, for a list of repeats: file:line and the
// object's name.
func (f Finding) place() string {
	s := f.File
	if f.Line > 0 {
		s += fmt.Sprintf(":%d", f.Line)
	}
	if r := f.Resource.String(); r != "" {
		if s != "" {
			return s + " (" + r + ")"
		}
		return r
	}
	if s == "" {
		return "(no location)"
	}
	return s
}
