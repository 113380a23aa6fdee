package validate

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gitops-actions/gitops-actions/internal/policy"
	"github.com/gitops-actions/gitops-actions/internal/report"
)

// Annotations that turn rules off for one object.
const (
	AnnotationIgnore       = "gitops-actions.io/ignore"
	AnnotationIgnoreReason = "gitops-actions.io/ignore-reason"
)

// RuleIgnoreInvalid flags an ignore annotation naming a rule that does
// not exist or cannot be suppressed per object.
const RuleIgnoreInvalid = "GA-IGNORE-INVALID"

// Suppressed is a finding an ignore annotation turned off, kept in the
// JSON report with the reason given.
type Suppressed struct {
	report.Finding
	Reason string `json:"reason,omitempty"`
}

// suppressions collects what the annotations turned off, from the
// parallel checks.
type suppressions struct {
	mu   sync.Mutex
	list []Suppressed
}

// suppressible reports whether an annotation may turn a finding off:
// verdicts of policies and deprecation warnings are opinions about an
// object; whether it parses, matches its schema, is served by the
// cluster at all or was checked to the end (a policy limit) are not.
func suppressible(f report.Finding) bool {
	if f.Rule == "" || f.Rule == RuleAPIRemoved || f.Rule == policy.RuleLimit {
		return false
	}
	return f.Source == report.SourcePolicy || f.Source == report.SourceDeprecation
}

// apply drops the findings of d that its ignore annotation names and
// adds a warning for each named rule that is unknown or not suppressible.
func (s *suppressions) apply(d *Doc, fs []report.Finding) []report.Finding {
	md, _ := d.Object["metadata"].(map[string]any)
	anns, _ := md["annotations"].(map[string]any)
	raw, ok := anns[AnnotationIgnore]
	if !ok {
		return fs
	}
	reason, _ := anns[AnnotationIgnoreReason].(string)
	reason = strings.TrimSpace(reason)
	file, line := d.At([]string{"metadata", "annotations", AnnotationIgnore})
	invalid := func(format string, args ...any) {
		fs = append(fs, report.Finding{Source: report.SourceLint, Rule: RuleIgnoreInvalid, Severity: report.Warning,
			File: file, Line: line, Resource: d.Resource(), Message: fmt.Sprintf(format, args...)})
	}
	value, isString := raw.(string)
	ids := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if !isString || len(ids) == 0 {
		invalid("annotation %s names no rule: give rule IDs separated by commas", AnnotationIgnore)
		return fs
	}
	known := ruleMetadata()
	ignored := map[string]bool{}
	for _, id := range ids {
		// Custom policies name their own rules (namespace.rule,
		// Kind/name); only the GA- namespace is known in full.
		if strings.HasPrefix(id, "GA-") {
			if _, ok := known[id]; !ok {
				invalid("annotation %s names %q, which is not a built-in rule ID", AnnotationIgnore, id)
				continue
			}
			if !suppressible(report.Finding{Source: sourceOf(id), Rule: id}) {
				invalid("annotation %s names %s, which cannot be suppressed per object (disable-rules or the input it names can)", AnnotationIgnore, id)
				continue
			}
		}
		ignored[id] = true
	}
	kept := fs[:0]
	var off []Suppressed
	for _, f := range fs {
		if ignored[f.Rule] && suppressible(f) {
			off = append(off, Suppressed{Finding: f, Reason: reason})
			continue
		}
		kept = append(kept, f)
	}
	if len(off) > 0 {
		s.mu.Lock()
		s.list = append(s.list, off...)
		s.mu.Unlock()
	}
	return kept
}

// sourceOf is the source of a built-in rule's findings.
func sourceOf(id string) string {
	switch id {
	case RuleAPIRemoved, RuleAPIDeprecated:
		return report.SourceDeprecation
	}
	for _, r := range policy.BuiltinRules {
		if r.ID == id {
			return report.SourcePolicy
		}
	}
	return ""
}

// result is the suppressed findings as reported: disabled rules left
// out, a base rendered by two overlays counted once, in a stable order.
func (s *suppressions) result(disabled []string) []Suppressed {
	var fs []report.Finding
	reasons := map[string]string{}
	for _, x := range s.list {
		fs = append(fs, x.Finding)
		reasons[x.String()] = x.Reason
	}
	fs = dedupe(filterRules(fs, disabled))
	report.Sort(fs)
	out := []Suppressed{}
	for _, f := range fs {
		out = append(out, Suppressed{Finding: f, Reason: reasons[f.String()]})
	}
	return out
}
