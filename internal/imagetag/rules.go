package imagetag

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Rule is one tag rule line, e.g. "type=semver,pattern={{major}}.{{minor}}".
type Rule struct {
	Type    string // schedule, semver, match, edge, ref, raw or sha
	Event   string // ref: branch, tag or pr
	Pattern string // semver, match and schedule
	Value   string // raw; semver and match: used instead of the git tag
	Match   string // semver: a regexp whose group 1 is the version
	Group   int    // match: the capture group that is the tag
	Branch  string // edge: the branch, default the repository's default branch
	Format  string // sha: short or long
	Prefix  string
	Suffix  string
	// HasPrefix and HasSuffix say the rule sets its own, which replaces
	// the flavor's (even when empty, as prefix= does).
	HasPrefix, HasSuffix bool
	// Enable is true, false, or expressions that give one of them, such
	// as {{is_default_branch}}.
	Enable string
	// Priority orders the tags, highest first.
	Priority int
}

// Default priorities of metadata-action's README ("priority attribute").
var defaultPriority = map[string]int{
	"schedule": 1000, "semver": 900, "match": 800, "edge": 700, "ref": 600, "raw": 200, "sha": 100,
}

// DefaultRules apply when no rule is given, as in metadata-action: the
// schedule, the branch, the git tag and the pull request.
var DefaultRules = []Rule{
	{Type: "schedule", Pattern: "nightly", Enable: "true", Priority: 1000},
	{Type: "ref", Event: "branch", Enable: "true", Priority: 600},
	{Type: "ref", Event: "tag", Enable: "true", Priority: 600},
	{Type: "ref", Event: "pr", Prefix: "pr-", HasPrefix: true, Enable: "true", Priority: 600},
}

// ParseRules reads one rule per line; blank lines and lines starting
// with # are skipped.
func ParseRules(lines []string) ([]Rule, error) {
	var rules []Rule
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
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

// ParseRule reads one rule. A field without "=" is the value, and a rule
// without type= is type=raw, so "edge" alone is type=raw,value=edge, as
// in metadata-action.
func ParseRule(line string) (Rule, error) {
	r := Rule{Enable: "true"}
	seen := map[string]bool{}
	fail := func(format string, a ...any) (Rule, error) {
		return r, fmt.Errorf("tag rule %q: %s", line, fmt.Sprintf(format, a...))
	}
	for _, kv := range splitFields(line) {
		if strings.TrimSpace(kv) == "" {
			return fail("an empty field (a stray comma?)")
		}
		k, v, ok := keyValue(kv)
		if !ok {
			k = "value"
		}
		if seen[k] {
			return fail("%s is given twice", k)
		}
		seen[k] = true
		switch k {
		case "type":
			r.Type = strings.ToLower(v)
		case "event":
			r.Event = strings.ToLower(v)
		case "pattern":
			r.Pattern = v
		case "value":
			r.Value = v
		case "match":
			r.Match = v
		case "group":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fail("group %q is not a capture group number", v)
			}
			r.Group = n
		case "branch":
			r.Branch = v
		case "format":
			r.Format = strings.ToLower(v)
		case "prefix":
			r.Prefix, r.HasPrefix = v, true
		case "suffix":
			r.Suffix, r.HasSuffix = v, true
		case "enable":
			r.Enable = v
		case "priority":
			n, err := strconv.Atoi(v)
			if err != nil {
				return fail("priority %q is not a whole number", v)
			}
			r.Priority = n
		default:
			return fail("unknown key %q", k)
		}
	}
	if r.Type == "" {
		r.Type = "raw"
	}
	p, ok := defaultPriority[r.Type]
	if !ok {
		return fail("type %q is not schedule, semver, match, edge, ref, raw or sha", r.Type)
	}
	if !seen["priority"] {
		r.Priority = p
	}
	switch r.Type {
	case "schedule":
		if !seen["pattern"] {
			r.Pattern = "nightly"
		}
		if _, err := expandWith(r.Pattern, scheduleExpr(Event{})); err != nil {
			return fail("pattern: %v", err)
		}
	case "semver":
		if r.Pattern == "" {
			return fail("semver needs a pattern, e.g. pattern={{version}}")
		}
		if _, err := expandWith(r.Pattern, semverExpr(Semver{}, "")); err != nil {
			return fail("pattern: %v", err)
		}
		if r.Match != "" {
			re, err := compileJSRegexp(r.Match)
			if err != nil {
				return fail("match: %v", err)
			}
			if re.NumSubexp() < 1 {
				return fail("match %q needs a capture group: its group 1 is the version", r.Match)
			}
		}
	case "match":
		if r.Pattern == "" {
			return fail(`match needs a pattern, e.g. pattern=v(.*),group=1`)
		}
		re, err := compileJSRegexp(r.Pattern)
		if err != nil {
			return fail("pattern: %v", err)
		}
		if r.Group > re.NumSubexp() && !re.global {
			return fail("group %d: the pattern has %d capture groups", r.Group, re.NumSubexp())
		}
	case "ref":
		switch r.Event {
		case "branch", "tag":
		case "pr":
			if !r.HasPrefix {
				r.Prefix, r.HasPrefix = "pr-", true
			}
		default:
			return fail("event %q is not branch, tag or pr", r.Event)
		}
	case "raw":
		if !seen["value"] {
			return fail("raw needs a value, e.g. type=raw,value=stable")
		}
	case "sha":
		if !r.HasPrefix {
			r.Prefix, r.HasPrefix = "sha-", true
		}
		switch r.Format {
		case "":
			r.Format = "short"
		case "short", "long":
		default:
			return fail("format %q is not short or long", r.Format)
		}
	}
	for _, f := range []struct{ key, v string }{{"value", r.Value}, {"prefix", r.Prefix}, {"suffix", r.Suffix}, {"enable", r.Enable}} {
		if _, err := expandWith(f.v, globalExpr(Event{})); err != nil {
			return fail("%s: %v", f.key, err)
		}
	}
	if !strings.Contains(r.Enable, "{{") && r.Enable != "true" && r.Enable != "false" {
		return fail("enable %q is not true, false or an expression such as {{is_default_branch}}", r.Enable)
	}
	return r, nil
}

// jsRegexp is a pattern in metadata-action's two spellings: a bare
// regexp, or /regexp/flags as in JavaScript.
type jsRegexp struct {
	*regexp.Regexp
	global bool // the g flag: String.match then lists whole matches
}

func compileJSRegexp(p string) (jsRegexp, error) {
	var out jsRegexp
	expr := p
	if len(p) > 2 && p[0] == '/' {
		if end := strings.LastIndexByte(p, '/'); end > 0 {
			flags := ""
			for _, f := range p[end+1:] {
				switch f {
				case 'i', 'm', 's':
					flags += string(f)
				case 'g':
					out.global = true
				default:
					return out, fmt.Errorf("regexp flag %q is not supported (only i, m, s and g)", f)
				}
			}
			expr = p[1:end]
			if flags != "" {
				expr = "(?" + flags + ")" + expr
			}
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return out, fmt.Errorf("%q is not a regular expression: %w", p, err)
	}
	out.Regexp = re
	return out, nil
}

// Flavor is metadata-action's flavor input: whether to add latest, and a
// prefix and suffix for every tag whose rule sets none.
type Flavor struct {
	Latest       string // auto (also ""), true or false
	Prefix       string
	Suffix       string
	PrefixLatest bool // onlatest=true after prefix=: latest gets the prefix too
	SuffixLatest bool
}

// ParseFlavor reads flavor lines such as "latest=false" or
// "prefix=foo-,onlatest=true"; onlatest applies to the prefix or suffix
// before it on the same line.
func ParseFlavor(lines []string) (Flavor, error) {
	fl := Flavor{Latest: "auto"}
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		onlatestFor := ""
		for _, field := range splitFields(line) {
			k, v, ok := keyValue(field)
			if !ok {
				return fl, fmt.Errorf("flavor %q: %q is not key=value", line, v)
			}
			switch k {
			case "latest":
				switch v {
				case "auto", "true", "false":
					fl.Latest = v
				default:
					return fl, fmt.Errorf("flavor %q: latest %q is not auto, true or false", line, v)
				}
			case "prefix", "suffix":
				if _, err := expandWith(v, globalExpr(Event{})); err != nil {
					return fl, fmt.Errorf("flavor %q: %s: %w", line, k, err)
				}
				if k == "prefix" {
					fl.Prefix = v
				} else {
					fl.Suffix = v
				}
				onlatestFor = k
			case "onlatest":
				if v != "true" && v != "false" {
					return fl, fmt.Errorf("flavor %q: onlatest %q is not true or false", line, v)
				}
				switch onlatestFor {
				case "prefix":
					fl.PrefixLatest = v == "true"
				case "suffix":
					fl.SuffixLatest = v == "true"
				default:
					return fl, fmt.Errorf("flavor %q: onlatest must follow prefix= or suffix= on the same line", line)
				}
			default:
				return fl, fmt.Errorf("flavor %q: unknown key %q (want latest, prefix, suffix or onlatest)", line, k)
			}
		}
	}
	return fl, nil
}

// splitFields splits on commas outside {{ }}, { } and quotes, since
// date formats such as {{date 'YYYY,MM'}} and regexps such as \d{1,2}
// may hold commas.
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
			depth = max(depth-1, 0)
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// keyValue reads one field as key=value, the key lower-cased; without
// "=", ok is false and v is the whole field.
func keyValue(field string) (k, v string, ok bool) {
	field = unquoteField(strings.TrimSpace(field))
	k, v, ok = strings.Cut(field, "=")
	if !ok {
		return "", strings.TrimSpace(field), false
	}
	return strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v), true
}

// unquoteField undoes CSV quoting of a whole field, "pattern=a,b", as
// metadata-action's examples write fields that hold commas.
func unquoteField(f string) string {
	if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
		return strings.ReplaceAll(f[1:len(f)-1], `""`, `"`)
	}
	return f
}
