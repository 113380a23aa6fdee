package imagetag

import (
	"fmt"
	"strconv"
	"strings"
)

// Rule is one tag rule line, e.g. "type=semver,pattern={{major}}.{{minor}}".
type Rule struct {
	Type    string // sha, ref, semver, raw, schedule
	Event   string // ref: branch, tag or pr
	Pattern string // semver and schedule
	Value   string // raw
	Format  string // sha: short or long
	Prefix  string
	Suffix  string
	// Enable is "true", "false" or "{{is_default_branch}}".
	Enable string
}

// DefaultRules apply when no rule is given: the commit, the branch, the
// pull request and the release version.
var DefaultRules = []Rule{
	{Type: "sha", Prefix: "sha-", Format: "short"},
	{Type: "ref", Event: "branch"},
	{Type: "ref", Event: "tag"},
	{Type: "ref", Event: "pr", Prefix: "pr-"},
}

// ParseRules reads one rule per line; blank lines are skipped.
func ParseRules(lines []string) ([]Rule, error) {
	var rules []Rule
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		r, err := ParseRule(line)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// ParseRule reads one rule. A bare word without "=" is shorthand for
// type=raw,value=<word>, as in metadata-action.
func ParseRule(line string) (Rule, error) {
	if !strings.Contains(line, "=") {
		return Rule{Type: "raw", Value: line}, nil
	}
	var r Rule
	seenPrefix := false
	for _, kv := range splitFields(line) {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if !ok {
			return r, fmt.Errorf("tag rule %q: %q is not key=value", line, kv)
		}
		switch k {
		case "type":
			r.Type = strings.ToLower(v)
		case "event":
			r.Event = strings.ToLower(v)
		case "pattern":
			r.Pattern = v
		case "value":
			r.Value = v
		case "format":
			r.Format = strings.ToLower(v)
		case "prefix":
			r.Prefix, seenPrefix = v, true
		case "suffix":
			r.Suffix = v
		case "enable":
			r.Enable = v
		case "priority":
			if _, err := strconv.Atoi(v); err != nil {
				return r, fmt.Errorf("tag rule %q: priority %q is not a number", line, v)
			}
		default:
			return r, fmt.Errorf("tag rule %q: unknown key %q", line, k)
		}
	}
	switch r.Type {
	case "sha":
		if !seenPrefix {
			r.Prefix = "sha-"
		}
		switch r.Format {
		case "":
			r.Format = "short"
		case "short", "long":
		default:
			return r, fmt.Errorf("tag rule %q: format %q is not short or long", line, r.Format)
		}
	case "ref":
		switch r.Event {
		case "branch", "tag":
		case "pr":
			if !seenPrefix {
				r.Prefix = "pr-"
			}
		default:
			return r, fmt.Errorf("tag rule %q: event %q is not branch, tag or pr", line, r.Event)
		}
	case "semver":
		if r.Pattern == "" {
			return r, fmt.Errorf("tag rule %q: semver needs a pattern, e.g. pattern={{version}}", line)
		}
	case "raw":
		if r.Value == "" {
			return r, fmt.Errorf("tag rule %q: raw needs a value", line)
		}
	case "schedule":
		if r.Pattern == "" {
			r.Pattern = "nightly"
		}
	case "":
		return r, fmt.Errorf("tag rule %q: missing type=", line)
	default:
		return r, fmt.Errorf("tag rule %q: type %q is not sha, ref, semver, raw or schedule", line, r.Type)
	}
	switch r.Enable {
	case "", "true", "false", "{{is_default_branch}}":
	default:
		return r, fmt.Errorf("tag rule %q: enable %q is not true, false or {{is_default_branch}}", line, r.Enable)
	}
	return r, nil
}

// splitFields splits on commas outside {{ }} and quotes, since date
// formats such as {{date 'YYYY,MM'}} may hold commas.
func splitFields(s string) []string {
	var out []string
	depth, quote, start := 0, rune(0), 0
	for i, c := range s {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '{':
			depth++
		case c == '}':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
