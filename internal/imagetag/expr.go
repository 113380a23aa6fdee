package imagetag

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	// {{date ... tz='Asia/Tokyo'}} must not depend on the runner's zoneinfo.
	_ "time/tzdata"
)

// call is one {{name 'positional' key='value'}} expression, in the
// subset of Handlebars that metadata-action documents.
type call struct {
	name string
	args []string
	hash map[string]string
}

// expandWith replaces every {{...}} in s by what eval gives for it.
func expandWith(s string, eval func(call) (string, error)) (string, error) {
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("%q: %q has no closing }}", s, rest[i:])
		}
		b.WriteString(rest[:i])
		c, err := parseCall(rest[i+2 : i+j])
		if err != nil {
			return "", fmt.Errorf("%q: %w", s, err)
		}
		v, err := eval(c)
		if err != nil {
			return "", fmt.Errorf("%q: %w", s, err)
		}
		b.WriteString(v)
		rest = rest[i+j+2:]
	}
}

func parseCall(src string) (call, error) {
	c := call{hash: map[string]string{}}
	s := strings.TrimSpace(src)
	n := strings.IndexFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
	if n < 0 {
		n = len(s)
	}
	c.name, s = s[:n], strings.TrimSpace(s[n:])
	if c.name == "" {
		return c, fmt.Errorf("empty expression {{%s}}", src)
	}
	for s != "" {
		key := ""
		if k, _, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(k, `'" `) {
			key, s = k, s[len(k)+1:]
		}
		if s == "" || (s[0] != '\'' && s[0] != '"') {
			return c, fmt.Errorf("{{%s}}: arguments must be quoted strings, e.g. {{date 'YYYYMMDD'}}", src)
		}
		end := strings.IndexByte(s[1:], s[0])
		if end < 0 {
			return c, fmt.Errorf("{{%s}}: unterminated quote", src)
		}
		v := s[1 : end+1]
		s = strings.TrimSpace(s[end+2:])
		if key == "" {
			c.args = append(c.args, v)
		} else {
			c.hash[key] = v
		}
	}
	return c, nil
}

// plain checks that an expression takes no arguments.
func (c call) plain(v string) (string, error) {
	if len(c.args) > 0 || len(c.hash) > 0 {
		return "", fmt.Errorf("{{%s}} takes no arguments", c.name)
	}
	return v, nil
}

// globalExpr evaluates the expressions metadata-action allows in a
// rule's value, prefix, suffix and enable and in the flavor's prefix and
// suffix.
func globalExpr(ev Event) func(call) (string, error) {
	return func(c call) (string, error) {
		switch c.name {
		case "branch":
			return c.plain(ev.Branch())
		case "tag":
			return c.plain(ev.GitTag())
		case "sha":
			return c.plain(shortSHA(ev.SHA))
		case "base_ref":
			return c.plain(ev.BaseRef)
		case "is_default_branch":
			return c.plain(strconv.FormatBool(ev.OnDefaultBranch()))
		case "is_not_default_branch":
			return c.plain(strconv.FormatBool(!ev.OnDefaultBranch()))
		}
		return dateExpr(ev, c)
	}
}

// dateExpr evaluates {{date 'FORMAT' tz='Zone'}} and {{commit_date ...}}.
func dateExpr(ev Event, c call) (string, error) {
	var t time.Time
	switch c.name {
	case "date":
		t = ev.Now
	case "commit_date":
		t = ev.CommitDate
		if t.IsZero() {
			t = ev.Now
		}
	default:
		return "", fmt.Errorf("unknown expression {{%s}}", c.name)
	}
	if len(c.args) != 1 {
		return "", fmt.Errorf("{{%s}} needs one quoted format, e.g. {{%s 'YYYYMMDD'}}", c.name, c.name)
	}
	loc := time.UTC
	for k, v := range c.hash {
		if k != "tz" {
			return "", fmt.Errorf("{{%s}}: unknown attribute %q (only tz)", c.name, k)
		}
		l, err := time.LoadLocation(v)
		if err != nil {
			return "", fmt.Errorf("{{%s}}: time zone %q: %w", c.name, v, err)
		}
		loc = l
	}
	return formatMoment(t.In(loc), c.args[0])
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

// momentTokens are moment.js format tokens, longest first so that MMMM
// wins over MM.
var momentTokens = []string{
	"YYYYYY", "YYYYY", "YYYY", "YY", "Y",
	"MMMM", "MMM", "MM", "Mo", "M",
	"DDDD", "DDDo", "DDD", "DD", "Do", "D",
	"dddd", "ddd", "dd", "do", "d",
	"HH", "H", "hh", "h", "kk", "k", "mm", "m", "ss", "s",
	"SSSSSSSSS", "SSSSSSSS", "SSSSSSS", "SSSSSS", "SSSSS", "SSSS", "SSS", "SS", "S",
	"A", "a", "ZZ", "Z", "X", "x", "Qo", "Q",
	"ww", "wo", "w", "WW", "Wo", "W", "gggg", "gg", "GGGG", "GG", "e", "E", "N", "zz", "z", "y",
}

// formatMoment renders t with a moment.js format string, as
// metadata-action's {{date}} does. [text] is literal; tokens moment
// knows but this does not (weeks, eras, zone names) are an error rather
// than a silently different tag.
func formatMoment(t time.Time, f string) (string, error) {
	var b strings.Builder
	for f != "" {
		if f[0] == '[' {
			if end := strings.IndexByte(f, ']'); end > 0 {
				b.WriteString(f[1:end])
				f = f[end+1:]
				continue
			}
		}
		tok := ""
		for _, k := range momentTokens {
			if strings.HasPrefix(f, k) {
				tok = k
				break
			}
		}
		if tok == "" {
			b.WriteByte(f[0])
			f = f[1:]
			continue
		}
		f = f[len(tok):]
		s, ok := momentToken(t, tok)
		if !ok {
			return "", fmt.Errorf("date format token %q is not supported", tok)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func momentToken(t time.Time, tok string) (string, bool) {
	pad := func(n, w int) string { return fmt.Sprintf("%0*d", w, n) }
	h12 := t.Hour() % 12
	if h12 == 0 {
		h12 = 12
	}
	switch tok {
	case "YYYY":
		return pad(t.Year(), 4), true
	case "YY":
		return pad(t.Year()%100, 2), true
	case "Y":
		return strconv.Itoa(t.Year()), true
	case "Q":
		return strconv.Itoa((int(t.Month())-1)/3 + 1), true
	case "MMMM":
		return t.Month().String(), true
	case "MMM":
		return t.Month().String()[:3], true
	case "MM":
		return pad(int(t.Month()), 2), true
	case "Mo":
		return ordinal(int(t.Month())), true
	case "M":
		return strconv.Itoa(int(t.Month())), true
	case "DDDD":
		return pad(t.YearDay(), 3), true
	case "DDDo":
		return ordinal(t.YearDay()), true
	case "DDD":
		return strconv.Itoa(t.YearDay()), true
	case "DD":
		return pad(t.Day(), 2), true
	case "Do":
		return ordinal(t.Day()), true
	case "D":
		return strconv.Itoa(t.Day()), true
	case "dddd":
		return t.Weekday().String(), true
	case "ddd":
		return t.Weekday().String()[:3], true
	case "dd":
		return t.Weekday().String()[:2], true
	case "do":
		return ordinal(int(t.Weekday())), true
	case "d":
		return strconv.Itoa(int(t.Weekday())), true
	case "HH":
		return pad(t.Hour(), 2), true
	case "H":
		return strconv.Itoa(t.Hour()), true
	case "hh":
		return pad(h12, 2), true
	case "h":
		return strconv.Itoa(h12), true
	case "kk", "k":
		k := t.Hour()
		if k == 0 {
			k = 24
		}
		if tok == "kk" {
			return pad(k, 2), true
		}
		return strconv.Itoa(k), true
	case "mm":
		return pad(t.Minute(), 2), true
	case "m":
		return strconv.Itoa(t.Minute()), true
	case "ss":
		return pad(t.Second(), 2), true
	case "s":
		return strconv.Itoa(t.Second()), true
	case "A", "a":
		s := "AM"
		if t.Hour() >= 12 {
			s = "PM"
		}
		if tok == "a" {
			s = strings.ToLower(s)
		}
		return s, true
	case "ZZ", "Z":
		s := t.Format("-07:00")
		if tok == "ZZ" {
			s = t.Format("-0700")
		}
		return s, true
	case "X":
		return strconv.FormatInt(t.Unix(), 10), true
	case "x":
		return strconv.FormatInt(t.UnixMilli(), 10), true
	}
	if strings.Trim(tok, "S") == "" {
		return pad(t.Nanosecond(), 9)[:len(tok)], true
	}
	return "", false
}

func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}
