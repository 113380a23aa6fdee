package ignorefile

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gitops-actions/gitops-actions/internal/report"
)

// Expired lists the entries of an ignore file (.trivyignore, or its YAML
// form when path ends in .yaml or .yml) whose exp date has passed: they no
// longer ignore anything, and the team should decide again. data is the
// file's content; path names it in findings and errors.
func Expired(path string, data []byte, now time.Time) ([]report.Finding, error) {
	var out []report.Finding
	add := func(id string, line int, exp time.Time) {
		if now.After(exp) {
			out = append(out, report.Finding{
				Source: report.SourceVulnerability, Rule: "GA-IGNORE-EXPIRED", Severity: report.Warning, File: path, Line: line,
				Message: fmt.Sprintf("ignore entry for %s expired on %s and no longer applies", id, exp.Format(time.DateOnly)),
			})
		}
	}
	if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
		var doc struct {
			Vulnerabilities []struct {
				ID        string    `yaml:"id"`
				ExpiredAt time.Time `yaml:"expired_at"`
			} `yaml:"vulnerabilities"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("parsing %q: %w", path, err)
		}
		for _, v := range doc.Vulnerabilities {
			if !v.ExpiredAt.IsZero() {
				add(v.ID, 0, v.ExpiredAt)
			}
		}
		return out, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		for _, f := range fields[1:] {
			d, ok := strings.CutPrefix(f, "exp:")
			if !ok {
				continue
			}
			exp, err := time.Parse(time.DateOnly, d)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: expiry %q is not YYYY-MM-DD", path, n, d)
			}
			add(fields[0], n, exp)
		}
	}
	// A line too long for the scanner would end the loop early and leave
	// the entries after it unchecked.
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, n+1, err)
	}
	return out, nil
}
