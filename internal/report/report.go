package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Status of a run in the JSON report.
const (
	StatusPassed = "passed"
	StatusFailed = "failed"
	StatusError  = "error"
)

// Report is the JSON report every action writes to report-file.
type Report struct {
	Action   string
	Version  string
	Status   string
	Error    string
	Outputs  map[string]string
	Findings []Finding
	// Extra holds action-specific top-level keys (vulnerabilities, sbom, deleted...).
	Extra map[string]any
}

// MarshalJSON writes the fixed keys first, then the extra keys.
func (r *Report) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	maps.Copy(m, r.Extra)
	m["action"] = r.Action
	m["version"] = r.Version
	m["status"] = r.Status
	if r.Error != "" {
		m["error"] = r.Error
	}
	outs := r.Outputs
	if outs == nil {
		outs = map[string]string{}
	}
	m["outputs"] = outs
	fs := r.Findings
	if fs == nil {
		fs = []Finding{}
	}
	m["findings"] = fs
	return json.Marshal(m)
}

// WriteFile writes the report as indented JSON, creating parent directories.
func (r *Report) WriteFile(path string) error {
	b, err := r.Encode()
	if err != nil {
		return err
	}
	return WriteJSON(path, b)
}

// Encode returns the report as indented JSON.
func (r *Report) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding report: %w", err)
	}
	return b, nil
}

// WriteJSON writes an encoded report, creating parent directories.
func WriteJSON(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("writing report %q: %w", path, err)
		}
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing report %q: %w", path, err)
	}
	return nil
}

// Markdown renders findings as a step-summary table, counting every
// finding and showing repeats once (see Group).
func Markdown(title string, fs []Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", title)
	if len(fs) == 0 {
		b.WriteString("No findings.\n")
		return b.String()
	}
	c := Count(fs)
	fmt.Fprintf(&b, "%d error(s), %d warning(s), %d notice(s)\n\n", c.Errors, c.Warnings, c.Notices)
	b.WriteString("| Severity | Rule | Location | Resource | Message |\n|---|---|---|---|---|\n")
	for _, f := range Group(fs) {
		loc := f.File
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", f.Severity, cell(f.Rule), cell(loc), cell(f.Resource.String()), cell(f.Message))
	}
	return b.String()
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", "<br>")
}

// Rules returns the distinct rule IDs of fs, sorted.
func Rules(fs []Finding) []string {
	set := map[string]bool{}
	for _, f := range fs {
		if f.Rule != "" {
			set[f.Rule] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
