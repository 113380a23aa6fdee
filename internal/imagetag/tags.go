package imagetag

import (
	"cmp"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tags applies the rules and the flavor to the event, as
// docker/metadata-action does: rules in priority order (highest first,
// ties in the order given), each tag once, then latest. With latest=auto,
// latest is added when the first tag is a release: type=ref,event=tag,
// type=match, or type=semver of a version that is not a pre-release (of
// the git tag, or of value=); a push to the default branch alone never
// gets it.
func Tags(rules []Rule, fl Flavor, ev Event) ([]string, error) {
	if len(rules) == 0 {
		rules = DefaultRules
	}
	rules = slices.Clone(rules)
	slices.SortStableFunc(rules, func(a, b Rule) int { return cmp.Compare(b.Priority, a.Priority) })

	var tags []string
	latest, decided := false, false
	for _, r := range rules {
		on, err := expandWith(r.Enable, globalExpr(ev))
		if err != nil {
			return nil, fmt.Errorf("tag rule enable: %w", err)
		}
		if on != "true" && on != "false" {
			return nil, fmt.Errorf("tag rule enable %q gives %q, not true or false", r.Enable, on)
		}
		if on == "false" {
			continue
		}
		val, fromTag, err := ruleValue(r, ev)
		if err != nil {
			return nil, err
		}
		if val == "" {
			continue
		}
		if val, err = affix(r, fl, ev, val); err != nil {
			return nil, err
		}
		if val == "" {
			continue
		}
		// The first tag decides latest, so a higher-priority branch or raw
		// tag keeps latest off a release build unless latest=true.
		if !decided {
			decided = true
			switch fl.Latest {
			case "true":
				latest = true
			case "false":
			default:
				latest = fromTag
			}
		}
		if t := Sanitize(val); t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	if latest {
		l := "latest"
		if fl.PrefixLatest {
			l = fl.Prefix + l
		}
		if fl.SuffixLatest {
			l += fl.Suffix
		}
		l, err := expandWith(l, globalExpr(ev))
		if err != nil {
			return nil, fmt.Errorf("flavor: %w", err)
		}
		if t := Sanitize(l); t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

// ruleValue is the tag a rule gives before prefix and suffix ("" for
// none), and whether it counts as a release for latest=auto.
func ruleValue(r Rule, ev Event) (string, bool, error) {
	switch r.Type {
	case "schedule":
		if !strings.Contains(ev.Name, "schedule") {
			return "", false, nil
		}
		v, err := expandWith(r.Pattern, scheduleExpr(ev))
		if err != nil {
			return "", false, fmt.Errorf("tag rule schedule pattern: %w", err)
		}
		return v, false, nil
	case "semver":
		return semverValue(r, ev)
	case "match":
		return matchValue(r, ev)
	case "edge":
		b := ev.Branch()
		want := r.Branch
		if want == "" {
			want = ev.DefaultBranch
		}
		if b == "" || b != want {
			return "", false, nil
		}
		return "edge", false, nil
	case "ref":
		switch r.Event {
		case "branch":
			return ev.Branch(), false, nil
		case "tag":
			return ev.GitTag(), true, nil
		case "pr":
			return ev.PRRef(), false, nil
		}
	case "raw":
		v, err := expandWith(r.Value, globalExpr(ev))
		if err != nil {
			return "", false, fmt.Errorf("tag rule value: %w", err)
		}
		return v, false, nil
	case "sha":
		if r.Format == "long" {
			return ev.SHA, false, nil
		}
		return shortSHA(ev.SHA), false, nil
	}
	return "", false, nil
}

// source is the git tag, or the rule's value when it has one; semver and
// match rules then work on any push.
func source(r Rule, ev Event) (string, error) {
	if r.Value == "" {
		return ev.GitTag(), nil
	}
	v, err := expandWith(r.Value, globalExpr(ev))
	if err != nil {
		return "", fmt.Errorf("tag rule value: %w", err)
	}
	return v, nil
}

func semverValue(r Rule, ev Event) (string, bool, error) {
	raw, err := source(r, ev)
	if err != nil || raw == "" {
		return "", false, err
	}
	if r.Match != "" {
		re, err := compileJSRegexp(r.Match)
		if err != nil {
			return "", false, err
		}
		if m := re.FindStringSubmatch(raw); m != nil {
			raw = m[1]
		}
	}
	raw = strings.ReplaceAll(raw, "/", "-")
	v, ok := ParseSemver(raw)
	if !ok {
		return "", false, nil
	}
	pattern := r.Pattern
	// A pre-release only ever gets its full version (or {{raw}} when the
	// pattern is exactly that): 1.2 must not move to a release candidate.
	if v.Pre != "" && !isRawPattern(pattern) {
		pattern = "{{version}}"
	}
	out, err := expandWith(pattern, semverExpr(v, raw))
	if err != nil {
		return "", false, fmt.Errorf("tag rule semver pattern: %w", err)
	}
	return out, v.Pre == "", nil
}

var rawPatternRE = regexp.MustCompile(`^\{\{\s*raw\s*\}\}$`)

func isRawPattern(p string) bool { return rawPatternRE.MatchString(p) }

func matchValue(r Rule, ev Event) (string, bool, error) {
	raw, err := source(r, ev)
	if err != nil || raw == "" {
		return "", false, err
	}
	re, err := compileJSRegexp(r.Pattern)
	if err != nil {
		return "", false, err
	}
	if re.global {
		all := re.FindAllString(raw, -1)
		if r.Group >= len(all) {
			return "", false, nil
		}
		return all[r.Group], true, nil
	}
	m := re.FindStringSubmatchIndex(raw)
	if m == nil || 2*r.Group+1 >= len(m) || m[2*r.Group] < 0 {
		return "", false, nil
	}
	return raw[m[2*r.Group]:m[2*r.Group+1]], true, nil
}

// affix adds the rule's prefix and suffix, or else the flavor's.
func affix(r Rule, fl Flavor, ev Event, val string) (string, error) {
	prefix, suffix := fl.Prefix, fl.Suffix
	if r.HasPrefix {
		prefix = r.Prefix
	}
	if r.HasSuffix {
		suffix = r.Suffix
	}
	p, err := expandWith(prefix, globalExpr(ev))
	if err != nil {
		return "", fmt.Errorf("tag prefix: %w", err)
	}
	s, err := expandWith(suffix, globalExpr(ev))
	if err != nil {
		return "", fmt.Errorf("tag suffix: %w", err)
	}
	return p + val + s, nil
}

// scheduleExpr allows only the date helpers, as metadata-action's
// schedule pattern does.
func scheduleExpr(ev Event) func(call) (string, error) {
	return func(c call) (string, error) { return dateExpr(ev, c) }
}

// semverExpr fills {{version}}, {{major}}, {{minor}}, {{patch}} and {{raw}}.
func semverExpr(v Semver, raw string) func(call) (string, error) {
	return func(c call) (string, error) {
		switch c.name {
		case "version":
			return c.plain(v.String())
		case "raw":
			return c.plain(raw)
		case "major":
			return c.plain(strconv.Itoa(v.Major))
		case "minor":
			return c.plain(strconv.Itoa(v.Minor))
		case "patch":
			return c.plain(strconv.Itoa(v.Patch))
		}
		return "", fmt.Errorf("unknown expression {{%s}} (want version, major, minor, patch or raw)", c.name)
	}
}

var invalidTagChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Sanitize makes s a valid OCI tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
// metadata-action replaces the invalid runs with "-" too; the leading
// separator and length limits are the registry's.
func Sanitize(s string) string {
	s = invalidTagChars.ReplaceAllString(s, "-")
	s = strings.TrimLeft(s, ".-")
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// Label keys set automatically.
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
	LabelVersion  = "org.opencontainers.image.version"
	LabelTitle    = "org.opencontainers.image.title"
)

// Labels returns the OCI labels for a build: source, revision, created,
// version and title (the repository name, else the image's last path
// element). The version is the first, highest-priority tag, as
// metadata-action has it; without tags, the release version of a semver
// git tag, else the git tag, pull request or branch name.
func Labels(ev Event, tags []string, image string, created time.Time) map[string]string {
	l := map[string]string{LabelCreated: created.UTC().Format(time.RFC3339)}
	if ev.Repository != "" {
		server := ev.ServerURL
		if server == "" {
			server = "https://github.com"
		}
		l[LabelSource] = strings.TrimSuffix(server, "/") + "/" + ev.Repository
		l[LabelTitle] = path.Base(ev.Repository)
	} else if image != "" {
		l[LabelTitle] = path.Base(image)
	}
	if ev.SHA != "" {
		l[LabelRevision] = ev.SHA
	}
	switch v, ok := ParseSemver(ev.GitTag()); {
	case len(tags) > 0:
		l[LabelVersion] = tags[0]
	case ok:
		l[LabelVersion] = v.String()
	case ev.GitTag() != "":
		l[LabelVersion] = Sanitize(ev.GitTag())
	case ev.PR() > 0:
		l[LabelVersion] = "pr-" + strconv.Itoa(ev.PR())
	case ev.Branch() != "":
		l[LabelVersion] = Sanitize(ev.Branch())
	}
	return l
}
