package imagetag

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tags applies the rules to the event and returns the tags, deduplicated
// in rule order. "latest" is added for a push to the default branch.
func Tags(rules []Rule, ev Event) ([]string, error) {
	if len(rules) == 0 {
		rules = DefaultRules
	}
	var tags []string
	add := func(r Rule, t string) {
		t = Sanitize(r.Prefix + t + r.Suffix)
		if t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	for _, r := range rules {
		switch r.Enable {
		case "false":
			continue
		case "{{is_default_branch}}":
			if !ev.OnDefaultBranch() {
				continue
			}
		}
		switch r.Type {
		case "sha":
			if ev.SHA == "" {
				continue
			}
			s := ev.SHA
			if r.Format != "long" && len(s) > 7 {
				s = s[:7]
			}
			add(r, s)
		case "ref":
			switch r.Event {
			case "branch":
				if b := ev.Branch(); b != "" {
					add(r, b)
				}
			case "tag":
				if t := ev.GitTag(); t != "" {
					add(r, t)
				}
			case "pr":
				if n := ev.PR(); n > 0 {
					add(r, strconv.Itoa(n))
				}
			}
		case "semver":
			v, ok := ParseSemver(ev.GitTag())
			if !ok {
				continue
			}
			t, ok := semverTag(r.Pattern, v, ev.GitTag())
			if ok {
				add(r, t)
			}
		case "raw":
			t, err := expand(r.Value, ev)
			if err != nil {
				return nil, err
			}
			add(r, t)
		case "schedule":
			if ev.Name != "schedule" {
				continue
			}
			t, err := expand(r.Pattern, ev)
			if err != nil {
				return nil, err
			}
			add(r, t)
		}
	}
	if ev.OnDefaultBranch() && !slices.Contains(tags, "latest") {
		tags = append(tags, "latest")
	}
	return tags, nil
}

// semverTag fills {{version}}, {{major}}, {{minor}}, {{patch}} and {{raw}}.
// Like metadata-action, a pre-release only gets the full {{version}} or
// {{raw}}, and {{major}} alone is not produced for 0.x (it is unstable).
func semverTag(pattern string, v Semver, raw string) (string, bool) {
	full := strings.Contains(pattern, "{{version}}") || strings.Contains(pattern, "{{raw}}")
	if v.Pre != "" && !full {
		return "", false
	}
	if v.Major == 0 && pattern == "{{major}}" {
		return "", false
	}
	r := strings.NewReplacer(
		"{{version}}", v.String(), "{{raw}}", raw,
		"{{major}}", strconv.Itoa(v.Major), "{{minor}}", strconv.Itoa(v.Minor), "{{patch}}", strconv.Itoa(v.Patch),
	)
	return r.Replace(pattern), true
}

var (
	dateRE  = regexp.MustCompile(`\{\{\s*date\s+'([^']*)'\s*\}\}`)
	otherRE = regexp.MustCompile(`\{\{[^}]*\}\}`)
)

// expand fills {{branch}}, {{tag}}, {{sha}}, {{base_ref}} and {{date 'FORMAT'}}
// (FORMAT in moment.js tokens such as YYYYMMDD-HHmmss) in a value.
func expand(s string, ev Event) (string, error) {
	short := ev.SHA
	if len(short) > 7 {
		short = short[:7]
	}
	s = strings.NewReplacer("{{branch}}", ev.Branch(), "{{tag}}", ev.GitTag(), "{{sha}}", short).Replace(s)
	s = dateRE.ReplaceAllStringFunc(s, func(m string) string {
		return ev.Now.UTC().Format(goLayout(dateRE.FindStringSubmatch(m)[1]))
	})
	if bad := otherRE.FindString(s); bad != "" {
		return "", fmt.Errorf("tag value %q: unknown expression %s", s, bad)
	}
	return s, nil
}

// goLayout turns moment.js date tokens into a Go time layout.
func goLayout(f string) string {
	return strings.NewReplacer(
		"YYYY", "2006", "YY", "06", "MM", "01", "DD", "02",
		"HH", "15", "hh", "03", "mm", "04", "ss", "05", "Z", "Z07:00",
	).Replace(f)
}

var invalidTagChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Sanitize makes s a valid OCI tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
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
// version (the release version on a semver tag, else the tag, pull
// request or branch name, else the first tag) and
// title (the repository name, else the image's last path element).
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
	case ok:
		l[LabelVersion] = v.String()
	case ev.GitTag() != "":
		l[LabelVersion] = Sanitize(ev.GitTag())
	case ev.PR() > 0:
		l[LabelVersion] = "pr-" + strconv.Itoa(ev.PR())
	case ev.Branch() != "":
		l[LabelVersion] = Sanitize(ev.Branch())
	case len(tags) > 0:
		l[LabelVersion] = tags[0]
	}
	return l
}
