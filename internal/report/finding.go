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
